"""One spelling per unit: the ``units`` attributes of the store, parseable by pint and UDUNITS.

Every ``units`` attribute ssbscope writes is normalised by :func:`normalize_units` (called by
:meth:`ssbscope.store.Store.write`): a known variant (``"µm"``, ``"um3"``, ``"mAh cm-2"``,
``"1/voxel"``, ``"counts"`` ...) becomes its canonical spelling from :data:`ALIASES`; any other
string must parse with pint (``pint.UnitRegistry().parse_units``), else it is refused.  The
canonical spellings use ``*``, ``/`` and ``^`` (``"mA*h/cm^2"``, ``"um^3"``), which both pint
and UDUNITS-2 parse, and ASCII ``um`` for micrometres.

Detector pixels and CT voxels are both ``"pixel"`` (pint's printing unit ``pixel``; pint reads
``"px"`` as a CSS length, so that spelling is avoided).  Electron momentum in atomic units is
``"hbar/bohr"``.  Free text that is no unit (``"grey value"``) does not belong in ``units``:
give ``"1"`` and say what the number is in ``long_name`` or ``description``.

Examples
--------
>>> normalize_units("µm3")
'um^3'
>>> normalize_units("mAh cm-2")
'mA*h/cm^2'
>>> long_name_from("thickness_mean_um")
'thickness mean'
>>> pretty("mA*h/cm^2")
'mA h cm⁻²'
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["ALIASES", "CANONICAL", "normalize_units", "is_parseable", "long_name_from", "pretty"]

#: Known variant spellings -> the canonical one.
ALIASES: dict[str, str] = {
    # lengths, areas, volumes
    "µm": "um", "μm": "um", "micron": "um", "microns": "um", "micrometer": "um", "micrometre": "um",
    "um2": "um^2", "µm2": "um^2", "μm2": "um^2", "um**2": "um^2", "µm^2": "um^2",
    "um3": "um^3", "µm3": "um^3", "μm3": "um^3", "um**3": "um^3", "µm^3": "um^3",
    "mm2": "mm^2", "mm3": "mm^3", "mm**3": "mm^3", "cm2": "cm^2", "cm3": "cm^3",
    "Å": "angstrom",
    # electrochemistry
    "mAh": "mA*h", "Ah": "A*h", "Wh": "W*h", "mWh": "mW*h",
    "mAh cm-2": "mA*h/cm^2", "mAh/cm2": "mA*h/cm^2", "mAh/cm^2": "mA*h/cm^2",
    "mAh g-1": "mA*h/g", "mAh/g": "mA*h/g",
    "mA cm-2": "mA/cm^2", "mA/cm2": "mA/cm^2",
    "ohm cm2": "ohm*cm^2", "Ohm cm2": "ohm*cm^2", "ohm*cm2": "ohm*cm^2", "Ω cm2": "ohm*cm^2",
    "Ohm": "ohm", "Ω": "ohm",
    "S cm-1": "S/cm", "S/cm": "S/cm",
    # materials
    "g cm-3": "g/cm^3", "g/cm3": "g/cm^3", "cm-1": "1/cm", "cm2 g-1": "cm^2/g", "cm2/g": "cm^2/g",
    # angles, fractions, counts
    "degrees": "degree", "deg": "degree", "%": "percent", "pct": "percent",
    "counts": "count", "counts mm-3": "count/mm^3", "counts/mm3": "count/mm^3",
    # detector pixels and voxels
    "px": "pixel", "pixels": "pixel", "voxel": "pixel", "voxels": "pixel", "vox": "pixel",
    "1/px": "1/pixel", "1/voxel": "1/pixel", "px-1": "1/pixel",
    # electron momentum (atomic units) and its inverse
    "a.u. (atomic units of momentum)": "hbar/bohr",
    # dimensionless
    "dimensionless": "1", "-": "1",
}

#: The canonical spellings ssbscope writes (every one parses with pint; a test checks).
CANONICAL = frozenset(set(ALIASES.values()) | {
    "1", "", "s", "h", "V", "mV", "A", "mA", "Hz", "ohm", "keV", "MPa", "um", "mm", "nm", "cm",
    "m", "mg", "g", "rad", "degree", "percent", "count", "pixel", "angstrom", "K", "degC"})


@lru_cache(maxsize=1)
def _registry():
    import pint

    return pint.UnitRegistry()


@lru_cache(maxsize=512)
def is_parseable(unit: str) -> bool:
    """Whether pint parses ``unit`` (an empty string is dimensionless)."""
    try:
        _registry().parse_units(unit)
    except Exception:  # pint raises UndefinedUnitError, DefinitionSyntaxError, TypeError, ...
        return False
    return True


def normalize_units(unit) -> str:
    """The canonical spelling of ``unit``.

    Parameters
    ----------
    unit : str
        A ``units`` attribute.

    Returns
    -------
    str
        The :data:`ALIASES` spelling of a known variant, else ``unit`` itself when pint
        parses it.

    Raises
    ------
    ValueError
        ``unit`` is not a string or pint cannot parse it.
    """
    if not isinstance(unit, str):
        raise ValueError(f"{unit!r}: a unit must be a string")
    u = unit.strip()
    if u in ALIASES:
        return ALIASES[u]
    if u in CANONICAL or is_parseable(u):
        return u
    raise ValueError(f"{unit!r} is not a unit pint can parse; write it like 'um', 'um^3', "
                     "'mA*h/cm^2', '1/pixel' or '1' (put free text in attrs['long_name'])")


def long_name_from(name: str) -> str:
    """A readable name from a variable name: the unit suffix dropped, ``_`` -> space
    (``"charge_mah_cm2"`` -> ``"charge"``)."""
    from ssbscope.store import _UNIT_SUFFIXES

    n = str(name)
    for suffix, _unit in _UNIT_SUFFIXES:
        if n.endswith(suffix) and len(n) > len(suffix):
            n = n[: -len(suffix)]
            break
    return n.replace("_", " ").strip() or str(name)


_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_WORD = {"um": "µm", "ohm": "Ω", "degree": "°", "percent": "%", "angstrom": "Å",
         "degC": "°C", "count": "counts", "pixel": "px", "hbar/bohr": "a.u."}


def pretty(unit) -> str:
    """A unit as readers see it in figure labels and tables (one typography for the report).

    ``"um^3"`` -> ``"µm³"``, ``"mA*h/cm^2"`` -> ``"mA h cm⁻²"``, ``"1/cm"`` -> ``"cm⁻¹"``,
    ``"percent"`` -> ``"%"``, ``"1"`` -> ``""``; the stored attribute keeps its pint spelling
    (:func:`normalize_units`), this is for display only.

    Parameters
    ----------
    unit : str
        Any spelling :func:`normalize_units` accepts.

    Returns
    -------
    str
    """
    try:
        u = normalize_units(str(unit)).replace("**", "^")
    except ValueError:
        return str(unit)
    if u in ("1", ""):
        return ""
    if u in _WORD:
        return _WORD[u]
    num, _, den = u.partition("/")

    def factors(part, sign):
        out = []
        for f in part.split("*"):
            base, _, exp = f.partition("^")
            base = _WORD.get(base, base)
            e = int(exp) if exp.lstrip("-").isdigit() else 1
            e *= sign
            out.append(base if e == 1 else base + str(e).translate(_SUP))
        return out

    parts = [] if num in ("1", "") else factors(num, 1)
    if den:
        parts += factors(den, -1)
    return " ".join(parts)
