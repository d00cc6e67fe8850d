"""Compton profiles of materials from xraylib atomic profiles."""

import numpy as np
import pytest
import xraylib

from ssbscope import materials
from ssbscope.compton import profile, window_ratio
from ssbscope.errors import ParameterError

PZ = np.linspace(-100, 100, 80001)


@pytest.mark.parametrize("name", ["Li", "NMC622", "PEO-LiTFSI", "Li6PS5Cl", "Al", "Cu", "steel",
                                  "LiNi0.6Mn0.2Co0.2O2"])
def test_profile_normalised_to_electrons(name):
    comp = materials.get(name).composition if name in materials.NAMED else materials.parse_formula(name)
    n_e = sum(n * xraylib.SymbolToAtomicNumber(el) for el, n in comp.items())
    j = profile(name, PZ)
    assert np.trapezoid(j, PZ) == pytest.approx(n_e, rel=2e-3)
    assert np.allclose(j, j[::-1])  # symmetric


def test_profile_is_composition_weighted_xraylib():
    pz = np.array([0.0, 0.37, 1.0, 2.5, 7.0])
    ref = [sum(n * xraylib.ComptonProfile(xraylib.SymbolToAtomicNumber(el), p)
               for el, n in {"Li": 1, "Ni": 0.6, "Mn": 0.2, "Co": 0.2, "O": 2}.items()) for p in pz]
    assert np.allclose(profile("NMC622", pz), ref, rtol=1e-4)
    assert np.allclose(profile("LiNi0.6Mn0.2Co0.2O2", pz), ref, rtol=1e-4)
    assert np.allclose(profile(materials.nmc(1.0), -pz), ref, rtol=1e-4)
    assert profile("Li", 0.0) == pytest.approx(xraylib.ComptonProfile(3, 0.0), rel=1e-6)


def test_emf_rises_with_li_content_of_nmc():
    xs = np.linspace(0.0, 1.0, 6)
    emfs = [window_ratio(materials.nmc(x)) for x in xs]
    assert np.all(np.diff(emfs) > 0)
    # Li metal has the narrow valence profile: higher EMF than the oxide
    assert window_ratio("Li") > window_ratio("NMC622") > window_ratio("Cu")


def test_window_ratio_on_grid_matches_quadrature():
    pz = np.linspace(-10, 10, 20001)
    assert window_ratio(pz, profile("Al", pz)) == pytest.approx(window_ratio("Al"), rel=1e-4)


def test_profile_bad_input():
    with pytest.raises(ParameterError, match="formula"):
        profile("Xx2O", 0.0)
    with pytest.raises(ParameterError, match="material"):
        profile(3.0, 0.0)
    with pytest.raises(ParameterError, match="pz_au"):
        profile("Li", np.array([0.0, np.nan]))
