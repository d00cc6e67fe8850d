"""Operando XCS series through ``ssbscope run`` (000_290f30815ae66793: unmixing, EMF, maps)."""

import json

import numpy as np
import pytest

from ssbscope.compton.series import (
    ct_sheet_fractions,
    emf_x_calibration,
    sheet_layer_fractions,
    unmix_emf,
    unmix_emf_blocks,
    window_coefficients,
)
from ssbscope.errors import EmptyResultError, InputError


def _pure_spectra(edges):
    """Expected spectra (counts per bin, ideal detector) of a unit volume of Li, PEO-LiTFSI, NMC622."""
    from ssbscope import materials as M
    from ssbscope.twin.xcs import true_spectrum

    e = 0.5 * (edges[1:] + edges[:-1])
    out = []
    for comp in (((M.get("Li"), 1.0),), ((M.peo_litfsi(15.0), 1.0),), ((M.nmc(1.0), 0.6), (M.peo_litfsi(15.0), 0.4))):
        s = true_spectrum(comp, e) * np.diff(edges)
        out.append(s / s.sum())
    return np.array(out)


def test_sheet_layer_fractions_analytic():
    # layers 100 / 30 / 70 um; a 100 um sheet centred at 90 um: 60 um of layer 0, 30 of 1, 10 of 2
    f = sheet_layer_fractions([100, 30, 70], 90.0, 100.0)
    np.testing.assert_allclose(f, [0.6, 0.3, 0.1], atol=1e-12)
    # sheet partly above the stack: fractions sum to the part inside
    assert sheet_layer_fractions([100, 30, 70], 190.0, 100.0).sum() == pytest.approx(0.6)
    # the same from a voxelised CT of the stack (1 um voxels), in a cell mask
    lab = np.zeros((220, 6, 6), np.uint8)
    lab[100:130] = 1
    lab[130:200] = 2
    lab[200:] = 255  # undeclared above the stack
    mask = np.ones((6, 6), bool)
    mask[0] = False
    lab[:, 0] = 1  # outside the mask: ignored
    np.testing.assert_allclose(ct_sheet_fractions(lab, 1.0, 90.0, 100.0, 3, mask), [0.6, 0.3, 0.1], atol=1e-12)


def test_unmix_known_mixture():
    """Three positions with known fractions of Li, SPE and cathode: the unmixed EMFs are those of
    the pure spectra (exactly on expected counts; within 3 sigma on Poisson draws, the stated
    uncertainty matching the scatter of 200 draws within 15 %)."""
    edges = np.arange(60.0, 116.0001, 0.2)
    pure = _pure_spectra(edges)
    a, b = window_coefficients(edges)
    truth = (pure @ a) / (pure @ b)
    f = np.array([[1.0, 0.0, 0.0], [0.89, 0.11, 0.0], [0.62, 0.12, 0.26]])
    mon = np.array([1.0, 1.3, 0.8])
    n = 2e6
    lam = n * mon[:, None] * (f @ pure)
    A, B = np.tile(a, (3, 1)), np.tile(b, (3, 1))
    exact = unmix_emf(lam, f, A, B, monitors=mon, components=["Li", "SPE", "cathode"])
    np.testing.assert_allclose(exact.emf, truth, rtol=1e-9)
    assert exact.components == ("Li", "SPE", "cathode") and exact.condition > 1
    rng = np.random.default_rng(1)
    draws = np.array([unmix_emf(rng.poisson(lam), f, A, B, monitors=mon).emf for _ in range(200)])
    one = unmix_emf(rng.poisson(lam), f, A, B, monitors=mon)
    assert np.all(np.abs(one.emf - truth) < 3 * one.emf_unc)
    np.testing.assert_allclose(draws.std(axis=0, ddof=1), exact.emf_unc, rtol=0.15)
    assert np.all(np.abs(draws.mean(axis=0) - truth) < 3 * exact.emf_unc / np.sqrt(200) + 1e-3 * truth)
    # treating the mixtures as pure (wrong fractions) is visibly biased for the SPE and cathode
    wrong = unmix_emf(lam, np.eye(3), A, B, monitors=mon)
    assert np.all(np.abs(wrong.emf[1:] - truth[1:]) > 10 * exact.emf_unc[1:])
    # blocks: the same numbers per block
    blk = np.repeat(lam[:, None, None, :] / 4, 2, axis=1).repeat(2, axis=2)
    v, u = unmix_emf_blocks(blk, f, A, B, monitors=mon, min_counts=10)
    np.testing.assert_allclose(v[:, 1, 0], truth, rtol=1e-9)
    np.testing.assert_allclose(u[:, 0, 1], 2 * exact.emf_unc, rtol=1e-9)  # 1/4 of the counts


def test_unmix_refuses_what_cannot_be_unmixed():
    edges = np.arange(60.0, 116.0001, 0.2)
    a, b = window_coefficients(edges)
    r = np.ones((2, a.size))
    with pytest.raises(InputError, match="under-determined"):
        unmix_emf(r, np.ones((2, 3)) / 3, np.tile(a, (2, 1)), np.tile(b, (2, 1)))
    with pytest.raises(InputError, match="do not distinguish"):
        unmix_emf(r, [[0.5, 0.5], [0.25, 0.25]], np.tile(a, (2, 1)), np.tile(b, (2, 1)))
    with pytest.raises(EmptyResultError, match="in no sheet"):
        unmix_emf(r, [[1.0, 0.0], [1.0, 0.0]], np.tile(a, (2, 1)), np.tile(b, (2, 1)), components=["x", "y"])


def test_emf_x_calibration():
    cal = emf_x_calibration([1.08, 1.04], [1.0, 0.3])
    x, xu = cal.li_content(1.06, 0.002)
    assert x == pytest.approx(0.65) and xu == pytest.approx(0.002 / (0.04 / 0.7))


def test_twin_series_through_run(tmp_path):
    """The twin's operando series (3 states x 3 sheet heights, full HEXITEC model, 1e5 photons per
    exposure) as a user's files -> ssbscope run -> compton/xcs/emf.

    Each component's EMF lies within 2 sigma of the twin's resolution-broadened truth at every
    state (2 sigma: 9 values, of which about 3 would miss 1 sigma by chance; measured |z| <= 1.5
    with this seed, <= 0.9 with 6e5 photons), and the anode's EMF change between states matches
    the truth's (none: the twin's anode is Li metal at every state) within 2 combined sigma.
    The EMF of the cathode-dominant exposure itself (a mixture) is far from the cathode's: the
    unmixing is what recovers it."""
    from ssbscope.cli import main
    from ssbscope.store import Store
    from ssbscope.twin.xcs_series import write_xcs_series

    tw = write_xcs_series(tmp_path / "exp", n_photons=100_000, flood_photons=200_000, seed=0)
    out = tmp_path / "out"
    assert main(["run", str(tw.yaml_path), "--out", str(out), "--quiet"]) in (0, None)
    st = Store.open(out / "store.zarr")
    em = st["compton/xcs/emf"].load()
    tr = tw.truth
    assert [str(s) for s in em["state"].values] == tr["states"]
    assert [str(c) for c in em["component"].values] == tr["components"]
    np.testing.assert_allclose(em["time_s"].values, tr["time_s"], atol=1e-3)
    v, u = em["emf"].values, em["emf_unc"].values
    ref = np.array(tr["true_emf_resolution"])
    assert np.all(np.isfinite(v)) and np.all(u > 0)
    z = (v - ref) / u
    assert np.all(np.abs(z) < 2.0), z
    # stated precision (an arbitrary EMF with a huge uncertainty would pass the z test): anode
    # 2-3 %, cathode 3-11 %, SPE (4-11 % of one sheet) 10-35 % at 1e5 photons
    rel = u / v
    assert np.all(rel[:, 0] < 0.03) and np.all(rel[:, 2] < 0.15) and np.all(rel[:, 1] < 0.5), rel
    ci = tr["components"].index(em.attrs["anode_component"])
    assert em.attrs["anode_component"] == "anode"
    for s0, s1 in ((0, 1), (1, 2), (0, 2)):
        dv = v[s1, ci] - v[s0, ci]
        dt = ref[s1, ci] - ref[s0, ci]
        assert abs(dv - dt) < 2 * np.hypot(u[s0, ci], u[s1, ci]), (s0, s1, dv, dt)
    # the mixture seen at the cathode-dominant height is not the cathode
    cc = tr["components"].index("cathode")
    top = int(np.nanargmax(em["beam_height_um"].values[0]))
    assert abs(em["emf_position"].values[0, top] - ref[0, cc]) > 5 * em["emf_position_unc"].values[0, top]
    # the fractions follow the declared layers (anode thickness of the state, 250 um top hat)
    np.testing.assert_allclose(em["fraction"].values[0].sum(axis=1), 1.0, atol=1e-9)
    # maps on 8 x 8 blocks; the per-file products still there
    mp = st["compton/xcs/maps"].load()
    assert mp.attrs["block_px"] == 8 and mp["emf"].shape == (3, 3, 10, 10)
    ok = np.isfinite(mp["emf"].values[0, ci])
    assert ok.sum() >= 4
    assert "compton/input/pristine_z1/spectrum" in st.names()
    assert "compton/xcs/spectra" in st.names()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Operando series xcs" in html
    json.dumps(tw.truth)
