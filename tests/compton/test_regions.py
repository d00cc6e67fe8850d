"""Region spectra, NNLS unmixing, the paper's region subtraction, angle alignment."""

import numpy as np
import pytest

from ssbscope.compton import (align_to_angle, ddcs_cm2_sr_kev, profile, region_spectrum,
                              subtract_region, unmix)
from ssbscope.errors import EmptyResultError, InputError

E = np.arange(60.0, 120.0, 0.2) + 0.1


def comp(material):
    s = ddcs_cm2_sr_kev(E, 115.0, 90.0, lambda p: profile(material, p)) * (E < 115)
    return 1e6 * s / s.sum()


def test_unmix_recovers_components_within_one_percent():
    s = np.stack([comp("NMC622"), comp("PEO-LiTFSI"), comp("Li")])
    # volumes (mm^3) of cathode, SPE, Li in the three beam positions
    v = np.array([[0.065, 0.030, 0.155], [0.0, 0.0275, 0.2225], [0.0, 0.0, 0.25]])
    r = v @ s
    out = unmix(r, v)
    big = s > 1e-3 * s.max(axis=1, keepdims=True)
    assert np.max(np.abs(out[big] / s[big] - 1)) < 0.01
    # overdetermined with a fourth region and Poisson noise: still close
    v4 = np.vstack([v, [0.03, 0.03, 0.19]])
    rng = np.random.default_rng(0)
    r4 = rng.poisson(1e3 * (v4 @ s)) / 1e3
    out4 = unmix(r4, v4)
    assert np.sum(np.abs(out4 - s)) / np.sum(s) < 0.05


def test_paper_subtraction_is_special_case():
    li, spe = comp("Li"), comp("PEO-LiTFSI")
    v = np.array([[0.25, 0.0], [0.89 * 0.25, 0.0275]])
    r = v @ np.stack([li, spe])
    sep = subtract_region(r[1], r[0], 0.89, volume_mm3=0.0275)
    assert np.allclose(sep, spe, rtol=1e-9, atol=1e-9 * spe.max())
    assert np.allclose(unmix(r, v)[1], sep, rtol=1e-6, atol=1e-6 * spe.max())


def test_region_spectrum_mask_weights_volume():
    cube = np.random.default_rng(1).poisson(5.0, (4, 5, 30))
    m = np.zeros((4, 5), bool)
    m[1:3, 2:4] = True
    assert np.array_equal(region_spectrum(cube, m), cube[1:3, 2:4].sum(axis=(0, 1)))
    assert np.allclose(region_spectrum(cube, m, volume_mm3=2.0), cube[1:3, 2:4].sum(axis=(0, 1)) / 2)
    assert np.allclose(region_spectrum(cube, weights=m * 0.5), 0.5 * cube[1:3, 2:4].sum(axis=(0, 1)))
    with pytest.raises(EmptyResultError, match="selects no pixel"):
        region_spectrum(cube, np.zeros((4, 5), bool))
    with pytest.raises(InputError, match="shape"):
        region_spectrum(cube, np.ones((5, 5), bool))


def test_unmix_bad_volumes():
    with pytest.raises(InputError, match="under-determined"):
        unmix(np.ones((1, 5)), np.ones((1, 2)))
    with pytest.raises(InputError, match="rank"):
        unmix(np.ones((2, 5)), np.array([[1.0, 1.0], [2.0, 2.0]]))


def test_align_to_angle_moves_peak_and_conserves_counts():
    edges = np.arange(60.0, 120.0001, 0.1)
    e = 0.5 * (edges[1:] + edges[:-1])
    ang = np.array([[86.0, 90.0]])
    cube = np.stack([ddcs_cm2_sr_kev(e, 115.0, a, lambda p: profile("Li", p)) for a in ang[0]])[None]
    cube = cube / cube.sum(axis=2, keepdims=True) * 1e6
    out = align_to_angle(cube, edges, ang)
    assert np.allclose(out.sum(axis=2), cube.sum(axis=2), rtol=1e-6)
    # after alignment the 86-degree pixel peaks where the 90-degree one does
    assert abs(e[np.argmax(out[0, 0])] - e[np.argmax(out[0, 1])]) <= 0.1
    assert np.allclose(out[0, 1], cube[0, 1], atol=1e-6 * cube.max())


def test_sheet_phase_fractions_layers_and_inversion():
    from ssbscope.compton import sheet_phase_fractions

    vox = 10.0  # µm
    lab = np.zeros((60, 200, 200), np.uint8)  # 0.6 mm high, 2 x 2 mm
    lab[:20] = 1   # 0-200 µm
    lab[20:25] = 2  # 200-250 µm
    lab[25:] = 3
    lab[:, 100:, 150:] = np.where(lab[:, 100:, 150:] == 3, 4, lab[:, 100:, 150:])  # +y, +x corner
    frac, vol = sheet_phase_fractions(lab, vox, beam_centre_um=225.0, beam_height_um=250.0)
    inside = vol.sum(axis=0) > 0
    # sheet 100-350 µm: 100 µm of 1, 50 µm of 2, 100 µm of 3 (or 4 in the corner)
    assert np.allclose(frac[1][inside], 0.4) and np.allclose(frac[2][inside], 0.2)
    assert np.allclose((frac[3] + frac[4])[inside], 0.4)
    # the +x, +y corner of the object appears at low row/col on the detector (inverted image)
    r, c = np.nonzero(frac[4] > 0.3)
    assert r.max() < 40 and c.max() < 40
    assert vol.sum() == pytest.approx(2.0 * 2.0 * 0.25, rel=1e-6)
    with pytest.raises(EmptyResultError, match="misses"):
        sheet_phase_fractions(lab, vox, beam_centre_um=5000.0)


def test_attenuated_volumes_follow_beer_lambert():
    from types import SimpleNamespace

    from ssbscope import materials
    from ssbscope.compton.regions import attenuated_volumes

    al, cu = materials.get("Al"), materials.get("Cu")
    layers = [SimpleNamespace(name="bottom", thickness_mm=1.0, radius_mm=5.0, components=((al, 1.0),)),
              SimpleNamespace(name="top", thickness_mm=0.05, radius_mm=5.0, components=((cu, 1.0),))]
    e = np.array([85.0, 95.0, 105.0])
    x, y = np.array([-2.0, 3.0]), np.array([0.0, 3.9])
    v = attenuated_volumes(layers, 0.5, e, x_mm=x, y_mm=y, pixel_area_mm2=0.07, beam_height_mm=0.25)
    mu1 = al.linear_attenuation_1_cm(115.0)
    t1 = np.exp(-mu1 * 0.1 * (x + np.sqrt(25.0 - y**2)))  # path from the disc's edge along +x
    # Al above each slice z: 1.0 - z; Cu above: 0.05 mm
    zs = 0.375 + 0.01 * (np.arange(25) + 0.5)
    t2 = np.mean(np.exp(-0.1 * (al.linear_attenuation_1_cm(e)[None, :] * (1.0 - zs)[:, None]
                                + cu.linear_attenuation_1_cm(e)[None, :] * 0.05)), axis=0)
    expected = t1.sum() * 0.07 * 0.25 * t2
    assert np.allclose(v["bottom"], expected, rtol=1e-6)
    assert np.all(v["top"] == 0.0)
    assert v["bottom"][0] < v["bottom"][2]  # low energies are attenuated more


def test_unmix_with_energy_dependent_volumes():
    s = np.stack([comp("NMC622"), comp("PEO-LiTFSI"), comp("Li")])
    v = np.array([[0.065, 0.030, 0.155], [0.0, 0.0275, 0.2225], [0.0, 0.0, 0.25]])
    tilt = np.stack([1.0 - 0.02 * (E - 94.0) / 10.0 * (k + 1) for k in range(3)])  # per component
    v3 = v[:, :, None] * tilt[None, :, :]
    r = np.einsum("rce,ce->re", v3, s)
    out = unmix(r, v3)
    big = s > 1e-3 * s.max(axis=1, keepdims=True)
    assert np.max(np.abs(out[big] / s[big] - 1)) < 0.01
    # the geometric volumes alone leave the tilt in the components
    out2 = unmix(r, v)
    assert np.max(np.abs(out2[big] / s[big] - 1)) > 0.02
