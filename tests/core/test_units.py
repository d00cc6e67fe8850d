"""One pint/UDUNITS-parseable spelling per unit in the store, long names, variable order."""

from __future__ import annotations

import numpy as np
import pint
import pytest
import xarray as xr

from ssbscope.errors import StoreError
from ssbscope.store import _UNIT_SUFFIXES, Store
from ssbscope.units import ALIASES, CANONICAL, normalize_units

UREG = pint.UnitRegistry()


@pytest.mark.parametrize("unit", sorted(CANONICAL | {u for _s, u in _UNIT_SUFFIXES}))
def test_every_canonical_spelling_parses_with_pint(unit):
    UREG.parse_units(unit)


@pytest.mark.parametrize("variant, canonical, dims", [
    ("µm", "um", "[length]"), ("µm3", "um^3", "[length] ** 3"), ("mAh cm-2", "mA*h/cm^2", None),
    ("1/voxel", "1/pixel", None), ("counts mm-3", "count/mm^3", "1 / [length] ** 3"),
    ("%", "percent", "dimensionless"), ("mA/cm2", "mA/cm^2", "[current] / [length] ** 2")])
def test_variants_become_one_spelling(variant, canonical, dims):
    assert normalize_units(variant) == canonical
    if dims is not None:
        assert str(UREG.parse_units(canonical).dimensionality) == dims


def test_aliases_of_one_quantity_agree():
    # the table maps spellings of the same unit onto the same dimensionality
    for variant, canonical in ALIASES.items():
        try:
            a = UREG.parse_units(variant)
        except Exception:
            continue  # an unparseable variant is why the alias exists
        if variant in ("px", "1/px", "px-1", "pct"):  # pint: a CSS length, parsec * metric ton
            continue
        assert a.dimensionality == UREG.parse_units(canonical).dimensionality, variant


def test_store_normalises_units_and_adds_long_name(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    ds = xr.Dataset({"volume_change_um3": ("time_s", [1.0, 2.0], {"units": "µm3"}),
                     "charge_mah_cm2": ("time_s", [0.0, 0.5]),
                     "volume": ("time_s", [0.1, 0.2], {"units": "1/voxel", "long_name": "attenuation"})},
                    coords={"time_s": [0.0, 1.0]})
    st.write("x/y", ds)
    r = st["x/y"]
    assert r["volume_change_um3"].attrs["units"] == "um^3"
    assert r["charge_mah_cm2"].attrs == {"units": "mA*h/cm^2", "long_name": "charge"}
    assert r["volume"].attrs["units"] == "1/pixel" and r["volume"].attrs["long_name"] == "attenuation"
    assert r["time_s"].attrs["long_name"] == "time"


def test_store_refuses_free_text_units(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    ds = xr.Dataset({"volume": ("z", np.ones(3), {"units": "grey value"})})
    with pytest.raises(StoreError, match=r"'volume'.*grey value.*pint"):
        st.write("x/y", ds)
    assert "x/y" not in st


def test_variable_order_is_name_order_on_every_read(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    names = ["zeta_um", "b_um", "alpha_um", "m_V", "c_s", "kappa_1_cm"]
    ds = xr.Dataset({k: ("t", np.arange(2.0), {"units": "1"}) for k in names},
                    coords={"t": ("t", [0.0, 1.0], {"units": "s"}), "layer": ["a", "b", "c"]})
    st.write("x/y", ds)
    r = st["x/y"]
    assert list(r.data_vars) == sorted(names)
    assert "layer" in r.coords  # a coordinate no variable uses is kept


@pytest.mark.parametrize("unit, shown", [
    ("um^3", "µm³"), ("mA*h/cm^2", "mA h cm⁻²"), ("mAh cm-2", "mA h cm⁻²"), ("1/cm", "cm⁻¹"),
    ("percent", "%"), ("1", ""), ("ohm*cm^2", "Ω cm²"), ("MPa", "MPa"), ("um", "µm"),
    ("mA/cm^2", "mA cm⁻²"), ("mA/cm**2", "mA cm⁻²"), ("count/mm^3", "counts mm⁻³")])
def test_pretty_units_one_typography(unit, shown):
    from ssbscope.units import pretty

    assert pretty(unit) == shown


def test_report_figure_labels_use_the_report_typography():
    """No raw pint/ASCII spelling in the report modules' axis labels (issue 15: one unit
    typography in figures)."""
    import re
    from pathlib import Path

    import ssbscope.report as rep

    bad = []
    for f in Path(rep.__file__).parent.glob("*.py"):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"set_[xy]label|set_title|colorbar\(.*label=", line) and re.search(
                    r"\((um|um\^?[23]|mA/cm\^?2|1/cm|mAh/cm2)\)", line):
                bad.append(f"{f.name}:{n}: {line.strip()}")
    assert not bad, "\n".join(bad)
