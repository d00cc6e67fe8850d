"""CT twin: phantoms against the papers' numbers, Faraday's law, xraylib and skimage."""

import numpy as np
import pytest

from ssbscope.errors import DataQualityError, InputError, ParameterError
from ssbscope.materials import get
from ssbscope.twin import ct


@pytest.fixture(scope="module")
def coin_series():
    return {s: ct.coin_cell_000(s, n_xy=48, n_z=96, seed=3)
            for s in ("pristine", "charged", "discharged")}


def test_coin_cell_table1_roughness_and_volume(coin_series):
    ra = {s: p.roughness_um["li|spe"][0] for s, p in coin_series.items()}
    # Ra of the voxelised surface within 10 % of Table 1, in the paper's order
    for s, target in (("pristine", 5.1), ("charged", 5.4), ("discharged", 6.1)):
        assert ra[s] == pytest.approx(target, rel=0.10)
        assert coin_series[s].truth["target_ra_um"] == target
    assert ra["pristine"] < ra["charged"] < ra["discharged"]
    # Rq >= Ra (Cauchy-Schwarz) and about sqrt(pi/2) Ra for a Gaussian surface
    for p in coin_series.values():
        r_a, r_q = p.roughness_um["li|spe"]
        assert r_a < r_q < 1.4 * r_a
    # anode volume: +3.7 % on charge, then -1.4 % on discharge (within one part in 1e3)
    v = {s: p.truth["anode_volume_um3"] for s, p in coin_series.items()}
    assert v["charged"] / v["pristine"] - 1 == pytest.approx(0.037, abs=1e-3)
    assert v["discharged"] / v["charged"] - 1 == pytest.approx(-0.014, abs=1e-3)
    # dendrites appear on charge, subsurface pores on discharge
    assert coin_series["pristine"].truth["dendrite_mask"].sum() == 0
    assert coin_series["charged"].truth["dendrite_mask"].sum() > 0
    assert coin_series["charged"].truth["pore_mask"].sum() == 0
    assert coin_series["discharged"].truth["pore_mask"].sum() > 0


def test_coin_cell_ground_truth_is_the_label_volume(coin_series):
    p = coin_series["discharged"]
    vv = p.voxel_size_um**3
    for name, code in ct.CODES.items():
        if name != "void":
            assert p.phase_volumes_um3[name] == pytest.approx((p.labels == code).sum() * vv)
    # height map: independent recount of Li + pore voxels above the bottom of the anode
    z0 = int(p.truth["li_bottom_z_vox"])
    h = np.isin(p.labels[z0:], [ct.CODES["li"], ct.CODES["pore"]]).sum(axis=0) + z0
    assert np.allclose(p.height_maps_um["li|spe"][p.cell_mask], h[p.cell_mask] * p.voxel_size_um)
    assert np.isnan(p.height_maps_um["li|spe"][~p.cell_mask]).all()
    # Ra/Rq recomputed independently: plane fit by numpy.polyfit-like least squares
    yy, xx = np.nonzero(p.cell_mask)
    z = h[p.cell_mask] * p.voxel_size_um
    A = np.c_[np.ones_like(yy), yy, xx].astype(float)
    res = z - A @ np.linalg.lstsq(A, z, rcond=None)[0]
    assert p.roughness_um["li|spe"] == pytest.approx((np.abs(res).mean(), np.sqrt((res**2).mean())))
    # the SPE and cathode layers keep their thickness where flat
    assert p.truth["spe|cathode_z_vox"] > p.interfaces_z_vox["li|spe"]
    # arrays are read-only (ground truth cannot be altered by a consumer)
    with pytest.raises(ValueError):
        p.labels[0, 0, 0] = 1


def test_attenuation_from_xraylib(coin_series):
    p = coin_series["pristine"]
    vox_cm = p.voxel_size_um * 1e-4
    for name, mat in (("li", "Li"), ("steel", "steel"), ("spe", "PEO-LiTFSI"), ("al", "Al")):
        mu = p.mu_per_voxel[p.labels == ct.CODES[name]]
        expect = get(mat).linear_attenuation_1_cm(115.0) * vox_cm
        assert np.allclose(mu, expect, rtol=1e-6)
    assert np.all(p.mu_per_voxel[p.labels == 0] == 0)


def test_faraday_thickness():
    # 3 mAh cm^-2 of Li = 14.5 µm (001_a2c994afa3295f29); independent: Q M / (F rho)
    assert ct.faraday_thickness_um(3.0) == pytest.approx(14.5, abs=0.1)
    assert ct.faraday_thickness_um(3.0) == pytest.approx(
        3.0 * 3.6 / 96485.33212 * 6.941 / 0.534 * 1e4, rel=1e-9)


# the anode-free cell's cases (Faraday, conservation, cracks, centre/edge) are checked in
# tests/twin/test_anode_free_001.py against the paper's table


def test_anode_free_porosity_and_thickness_spread():
    p = ct.anode_free_001(3.0, grain="coarse", porosity=0.08, thickness_cv=0.17, n_xy=48,
                          n_z=80, seed=2)
    z0, z1 = p.truth["pellet_z_vox"]
    pel = p.labels[int(z0) + 2:int(z1) - 2][:, p.cell_mask]
    por = (pel == ct.CODES["pore"]).mean()
    assert por == pytest.approx(0.08, rel=0.3)  # balls clipped at the pellet's faces
    t = p.thickness_maps_um["plated_li"][p.cell_mask]
    assert np.std(t) / np.mean(t) == pytest.approx(0.17, rel=0.35)


def test_soft_short_layers_and_connectivity():
    from scipy.ndimage import label

    p = ct.soft_short_002(n_xy=48, n_z=96, seed=0)
    # Cao et al. 2023 Fig. 3J: 30.65 % at the Li anode (their layer 10) to 9.91 % at the
    # cathode side (their layer 1), counted on the phantom's labels
    lf = p.truth["layer_fraction_low_attenuation"]
    assert lf[0] == pytest.approx(0.3065, abs=0.01) and lf[-1] == pytest.approx(0.0991, abs=0.01)
    np.testing.assert_allclose(lf, np.linspace(0.3065, 0.0991, 10), atol=0.01)
    np.testing.assert_array_equal(p.truth["layer_fraction_paper_order"], lf[::-1])
    np.testing.assert_array_equal(p.truth["layer_fraction_from_anode"], lf)
    lc = p.truth["layer_fraction_connected"]
    assert np.all(np.diff(lc) < 0.01)  # rising toward the anode
    assert np.all(lc <= lf) and p.truth["isolated_mask"].any()
    conn, iso = p.truth["connected_mask"], p.truth["isolated_mask"]
    anode = p.labels == ct.CODES["li"]
    assert np.array_equal(conn, p.labels == ct.CODES["li_filament"])
    assert np.array_equal(iso, p.labels == ct.CODES["pore"])
    assert iso.sum() > 0
    for structure in (None, np.ones((3, 3, 3))):  # 6- and 26-connectivity agree
        lab, _ = label(conn | iso | anode, structure=structure)
        touching = np.unique(lab[anode])
        assert np.isin(lab[conn], touching).all()
        assert not np.isin(lab[iso], touching).any()


def test_soft_short_dead_li_and_pristine_pellet():
    """Dead Li (Li away from the filaments) beside the pores, and the same pellet before
    plating: the same pores, no Li in the electrolyte; the layer fractions still follow the
    paper's line; the default (no dead Li) is unchanged."""
    from scipy.ndimage import label

    kw = dict(n_xy=40, n_z=64, voxel_size_um=3.0, e_kev=22.0, seed=1)
    base = ct.soft_short_002(**kw)
    p = ct.soft_short_002(isolated_li_fraction=0.01, **kw)
    q = ct.soft_short_002(isolated_li_fraction=0.01, pristine=True, **kw)
    t, tq = p.truth, q.truth
    dead, conn = t["isolated_li_mask"], t["connected_mask"]
    pores = t["isolated_mask"] & ~dead
    assert np.array_equal(conn, base.truth["connected_mask"])  # the filaments are the same
    assert dead.any() and np.all(p.labels[dead] == ct.CODES["li_filament"])
    assert np.array_equal(pores, p.labels == ct.CODES["pore"])
    # about 1 % of the electrolyte, not connected to the anode even through corners
    n_el = (p.labels >= ct.CODES["lpscl"]).sum()
    assert 0.005 < dead.sum() / n_el < 0.02
    anode = p.labels == ct.CODES["li"]
    lab, _ = label(conn | dead | anode, structure=np.ones((3, 3, 3)))
    assert not np.isin(lab[dead], np.unique(lab[anode])).any()
    np.testing.assert_allclose(t["layer_fraction_low_attenuation"],
                               np.linspace(0.3065, 0.0991, 10), atol=0.012)
    assert t["isolated_li_volume_um3"] == pytest.approx(dead.sum() * 27.0)
    assert t["pore_volume_um3"] + t["isolated_li_volume_um3"] == t["isolated_volume_um3"]
    # pristine: the same pores, no filament, no dead Li, the same anode
    assert tq["pristine"] and not tq["connected_mask"].any() and not tq["isolated_li_mask"].any()
    np.testing.assert_array_equal(q.labels == ct.CODES["pore"], pores)
    assert not (q.labels == ct.CODES["li_filament"]).any()
    np.testing.assert_array_equal(q.labels == ct.CODES["li"], anode)
    assert tq["pore_volume_um3"] == t["pore_volume_um3"]


def test_projector_matches_skimage_radon_and_scan_is_seeded():
    from skimage.transform import radon

    n = 64
    yy, xx = np.mgrid[:n, :n]
    ph = (((yy - 25) ** 2 + (xx - 38) ** 2 < 12**2) * 0.02).astype(np.float32)
    ang = np.linspace(0, np.pi, 60, endpoint=False)
    ours = ct.project(ph, ang)
    ref = radon(ph, np.rad2deg(ang), circle=True).T
    assert np.abs(ours - ref).max() < 0.01 * ref.max()
    vol = ct.soft_short_002(n_xy=32, n_z=48, n_layers=4, seed=0)
    a = vol.scan(n_angles=30, seed=7, zinger_fraction=1e-3, gain_error_std=0.02)
    b = vol.scan(n_angles=30, seed=7, zinger_fraction=1e-3, gain_error_std=0.02)
    c = vol.scan(n_angles=30, seed=8)
    assert np.array_equal(a.projections, b.projections) and np.array_equal(a.flats, b.flats)
    assert not np.array_equal(a.projections, c.projections)
    assert a.projections.dtype == np.uint16 and a.zinger_mask.any()
    # counts follow Beer-Lambert: the open-beam region matches the flats
    open_beam = a.line_integrals < 1e-6
    ratio = a.projections[open_beam & ~a.zinger_mask].mean() / a.flats.mean()
    assert ratio == pytest.approx(1.0, rel=0.02)
    o = vol.scan(n_angles=40, scan="360-offset", center_offset_px=-10.0)
    assert o.angles_rad.max() > np.pi and o.projections.shape[2] == 32 // 2 + 10 + 8
    assert o.center_px == pytest.approx(o.projections.shape[2] // 2 - 10.0)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="state"):
        ct.coin_cell_000("half-charged")
    with pytest.raises(ParameterError, match="n_z"):
        ct.coin_cell_000(n_z=40)
    with pytest.raises(ParameterError, match="stripped_mah_cm2"):
        ct.anode_free_001(1.0, 2.0)
    with pytest.raises(ParameterError, match="grain"):
        ct.anode_free_001(grain="medium")
    with pytest.raises(ParameterError, match="fraction_near"):
        ct.soft_short_002(fraction_near=0.1, fraction_far=0.3)
    with pytest.raises(ParameterError, match="flux_photons"):
        ct.simulate_scan(np.zeros((2, 8, 8)), flux_photons=0)
    with pytest.raises(InputError, match="n_z, n_y, n_x"):
        ct.simulate_scan(np.zeros((8, 8)))
    with pytest.raises(DataQualityError, match="NaN"):
        ct.project(np.full((4, 4), np.nan), np.zeros(3))
