"""Materials of the papers' cells: composition, density, X-ray attenuation, electrons.

A :class:`Material` is a composition (atoms per formula unit) plus a mass density.  X-ray
cross-sections come from xraylib (elemental data combined by mass fraction, the mixture
rule); everything else (molar mass, electron density) follows from the composition.

Named materials (``get("NMC622")``) cover the cells of the papers; any chemical formula
(``get("LiNi0.6Mn0.2Co0.2O2", density_g_cm3=4.7)``) works too.

Examples
--------
>>> from ssbscope.materials import get
>>> li = get("Li")
>>> round(li.density_g_cm3, 3)
0.534
>>> round(li.electron_density_per_cm3 / 1e23, 3)
1.39
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ssbscope.errors import ParameterError

__all__ = [
    "Material",
    "get",
    "parse_formula",
    "nmc",
    "peo_litfsi",
    "NAMED",
    "AVOGADRO",
    "FARADAY_C_MOL",
    "M_LI_G_MOL",
    "RHO_LI_G_CM3",
]

AVOGADRO = 6.02214076e23  # 1/mol
FARADAY_C_MOL = 96485.33212  # C/mol
M_LI_G_MOL = 6.941  # g/mol, natural Li
RHO_LI_G_CM3 = 0.534  # g/cm^3, Li metal at room temperature

_TOKEN = re.compile(r"([A-Z][a-z]?|\(|\)|\d+(?:\.\d+)?|\.\d+)")


def parse_formula(formula: str) -> dict[str, float]:
    """Parse a chemical formula into atoms per formula unit.

    Parameters
    ----------
    formula : str
        e.g. ``"LiNi0.6Mn0.2Co0.2O2"``, ``"(C2H4O)15LiN(SO2CF3)2"``.

    Returns
    -------
    dict of str to float
        Element symbol -> atoms per formula unit.
    """
    import xraylib

    tokens = _TOKEN.findall(formula.replace(" ", ""))
    if "".join(tokens) != formula.replace(" ", ""):
        raise ParameterError("formula", formula, "is not a chemical formula",
                             "write it like 'LiNi0.6Mn0.2Co0.2O2'")
    stack: list[dict[str, float]] = [{}]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        mult = 1.0
        if nxt is not None and (nxt[0].isdigit() or nxt[0] == "."):
            mult = float(nxt)
        if tok == "(":
            stack.append({})
            i += 1
            continue
        if tok == ")":
            if len(stack) == 1:
                raise ParameterError("formula", formula, "has an unmatched ')'")
            group = stack.pop()
            for el, n in group.items():
                stack[-1][el] = stack[-1].get(el, 0.0) + n * mult
            i += 2 if mult != 1.0 or (nxt is not None and nxt[0].isdigit()) else 1
            continue
        if tok[0].isdigit() or tok[0] == ".":
            raise ParameterError("formula", formula, f"has a number {tok!r} without an element")
        if xraylib.SymbolToAtomicNumber(tok) <= 0:
            raise ParameterError("formula", formula, f"has an unknown element {tok!r}")
        stack[-1][tok] = stack[-1].get(tok, 0.0) + mult
        i += 2 if (nxt is not None and (nxt[0].isdigit() or nxt[0] == ".")) else 1
    if len(stack) != 1:
        raise ParameterError("formula", formula, "has an unmatched '('")
    return {el: n for el, n in stack[0].items() if n > 0}


@dataclass(frozen=True)
class Material:
    """A homogeneous material.

    Parameters
    ----------
    name : str
        Display name.
    composition : dict
        Element symbol -> atoms per formula unit.
    density_g_cm3 : float
        Mass density (g cm^-3).
    """

    name: str
    composition: dict = field(hash=False)
    density_g_cm3: float

    def __post_init__(self):
        if not np.isfinite(self.density_g_cm3) or self.density_g_cm3 < 0:
            raise ParameterError("density_g_cm3", self.density_g_cm3, "must be finite and >= 0")
        if not self.composition and self.density_g_cm3 > 0:
            raise ParameterError("composition", self.composition, "is empty")

    # --- composition -------------------------------------------------------------
    @property
    def molar_mass_g_mol(self) -> float:
        """Mass of one formula unit (g/mol)."""
        import xraylib

        return float(sum(n * xraylib.AtomicWeight(xraylib.SymbolToAtomicNumber(el))
                         for el, n in self.composition.items()))

    @property
    def mass_fractions(self) -> dict[str, float]:
        """Element -> mass fraction (sums to 1)."""
        import xraylib

        m = {el: n * xraylib.AtomicWeight(xraylib.SymbolToAtomicNumber(el))
             for el, n in self.composition.items()}
        tot = sum(m.values())
        return {el: v / tot for el, v in m.items()}

    @property
    def electrons_per_formula_unit(self) -> float:
        """Sum of Z over the atoms of one formula unit."""
        import xraylib

        return float(sum(n * xraylib.SymbolToAtomicNumber(el) for el, n in self.composition.items()))

    @property
    def electron_density_per_cm3(self) -> float:
        """Electron number density n_e (cm^-3) = rho N_A sum(n_i Z_i) / M."""
        if self.density_g_cm3 == 0:
            return 0.0
        return self.density_g_cm3 * AVOGADRO * self.electrons_per_formula_unit / self.molar_mass_g_mol

    # --- X-ray cross-sections (xraylib, mixture rule) -------------------------------
    def mass_attenuation_cm2_g(self, e_kev, kind: str = "total"):
        """Mass attenuation coefficient mu/rho (cm^2/g) at photon energy ``e_kev``.

        Parameters
        ----------
        e_kev : float or array
            Photon energy (keV), 1-1000.
        kind : {"total", "compton", "rayleigh", "photo"}
            Which interaction.  ``"total"`` includes coherent scattering.
        """
        import xraylib

        funcs = {"total": xraylib.CS_Total, "compton": xraylib.CS_Compt,
                 "rayleigh": xraylib.CS_Rayl, "photo": xraylib.CS_Photo}
        if kind not in funcs:
            raise ParameterError("kind", kind, f"must be one of {sorted(funcs)}")
        f = funcs[kind]
        e = np.atleast_1d(np.asarray(e_kev, dtype=float))
        if np.any(~np.isfinite(e)) or np.any(e <= 0):
            raise ParameterError("e_kev", e_kev, "must be finite and > 0")
        out = np.zeros_like(e)
        for el, w in self.mass_fractions.items():
            z = xraylib.SymbolToAtomicNumber(el)
            out += w * np.array([f(z, float(x)) for x in e])
        return out if np.ndim(e_kev) else float(out[0])

    def linear_attenuation_1_cm(self, e_kev, kind: str = "total"):
        """Linear attenuation coefficient mu (1/cm) = (mu/rho) rho."""
        return self.mass_attenuation_cm2_g(e_kev, kind) * self.density_g_cm3

    def with_density(self, density_g_cm3: float, name: str | None = None) -> "Material":
        """Same composition at another density (e.g. a porous pellet)."""
        return Material(name or self.name, dict(self.composition), float(density_g_cm3))


def nmc(x_li: float = 1.0, ni: float = 0.6, mn: float = 0.2, co: float = 0.2,
        density_g_cm3: float | None = None) -> Material:
    """Li_x Ni_a Mn_b Co_c O2 at lithium content ``x_li`` (0-1).

    The density scales with the formula mass (constant lattice volume), starting from
    4.75 g cm^-3 at x = 1 unless given.
    """
    if not (0.0 <= x_li <= 1.2):
        raise ParameterError("x_li", x_li, "must be within 0-1.2")
    comp = {"Li": x_li, "Ni": ni, "Mn": mn, "Co": co, "O": 2.0}
    comp = {k: v for k, v in comp.items() if v > 0}
    if density_g_cm3 is None:
        full = Material("tmp", {"Li": 1.0, "Ni": ni, "Mn": mn, "Co": co, "O": 2.0}, 4.75)
        part = Material("tmp", comp, 4.75)
        density_g_cm3 = 4.75 * part.molar_mass_g_mol / full.molar_mass_g_mol
    label = f"Li{x_li:g}Ni{ni:g}Mn{mn:g}Co{co:g}O2"
    return Material(label, comp, float(density_g_cm3))


def peo_litfsi(eo_to_li: float = 15.0, density_g_cm3: float = 1.25) -> Material:
    """PEO-LiTFSI solid polymer electrolyte at a molar ratio [EO]/[Li] (000_..., 15)."""
    if eo_to_li <= 0:
        raise ParameterError("eo_to_li", eo_to_li, "must be > 0")
    comp = {"C": 2 * eo_to_li + 2, "H": 4 * eo_to_li, "O": eo_to_li + 4,
            "Li": 1.0, "N": 1.0, "S": 2.0, "F": 6.0}
    return Material(f"PEO-LiTFSI (EO/Li={eo_to_li:g})", comp, density_g_cm3)


def _steel() -> Material:
    # AISI 316 stainless steel by mass fraction -> atoms per 100 g
    import xraylib

    wt = {"Fe": 0.655, "Cr": 0.17, "Ni": 0.12, "Mo": 0.025, "Mn": 0.02, "Si": 0.01}
    comp = {el: w * 100 / xraylib.AtomicWeight(xraylib.SymbolToAtomicNumber(el)) for el, w in wt.items()}
    return Material("steel (AISI 316)", comp, 8.0)


def _named() -> dict[str, Material]:
    f = parse_formula
    return {
        "Li": Material("Li", {"Li": 1.0}, RHO_LI_G_CM3),
        "NMC622": nmc(1.0, 0.6, 0.2, 0.2),
        "NMC811": nmc(1.0, 0.8, 0.1, 0.1),
        "PEO-LiTFSI": peo_litfsi(15.0),
        "Li6PS5Cl": Material("Li6PS5Cl", f("Li6PS5Cl"), 1.64),
        "Li5.4PS4.6Cl1.4": Material("Li5.4PS4.6Cl1.4", f("Li5.4PS4.6Cl1.4"), 1.60),
        "Al": Material("Al", {"Al": 1.0}, 2.699),
        "Cu": Material("Cu", {"Cu": 1.0}, 8.96),
        "steel": _steel(),
        "PTFE": Material("PTFE", {"C": 2.0, "F": 4.0}, 2.2),
        "CdZnTe": Material("CdZnTe", f("Cd0.9Zn0.1Te"), 5.78),
        "W": Material("W", {"W": 1.0}, 19.3),
        "Pb": Material("Pb", {"Pb": 1.0}, 11.34),
        "carbon": Material("carbon black", {"C": 1.0}, 1.9),
        "air": Material("air", {"N": 1.56, "O": 0.42, "Ar": 0.0093}, 0.001205),
        "vacuum": Material("vacuum", {}, 0.0),
    }


NAMED = ("Li", "NMC622", "NMC811", "PEO-LiTFSI", "Li6PS5Cl", "Li5.4PS4.6Cl1.4", "Al", "Cu",
         "steel", "PTFE", "CdZnTe", "W", "Pb", "carbon", "air", "vacuum")


@lru_cache(maxsize=None)
def _named_cached() -> dict[str, Material]:
    return _named()


def get(name: str, density_g_cm3: float | None = None) -> Material:
    """A named material (see ``NAMED``) or any chemical formula.

    Parameters
    ----------
    name : str
        A name from ``NAMED`` (case-insensitive) or a formula such as ``"Li2S"``.
    density_g_cm3 : float, optional
        Required for a formula that is not a named material; overrides the named density.
    """
    table = _named_cached()
    for key, mat in table.items():
        if key.lower() == str(name).lower():
            return mat if density_g_cm3 is None else mat.with_density(density_g_cm3)
    comp = parse_formula(str(name))
    if density_g_cm3 is None:
        raise ParameterError("density_g_cm3", None, f"is needed for the formula {name!r}",
                             f"pass density_g_cm3 or use a named material: {', '.join(NAMED)}")
    return Material(str(name), comp, float(density_g_cm3))
