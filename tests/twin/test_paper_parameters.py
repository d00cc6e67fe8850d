"""The twin's paper-parameter registry."""

import pytest

from ssbscope.twin import paper_parameters as pp


def test_register_and_read_back():
    rows = pp.register("zz", "Nobody 2026, doi:10.0/none", [
        pp.PaperParameter("a", 1.5, "um", "Fig. 1"),
        pp.PaperParameter("b", (1, 2), "1", "assumption: test", "why"),
    ])
    assert rows[1].assumed and not rows[0].assumed
    df = pp.table("zz")
    assert list(df["parameter"]) == ["a", "b"] and df.attrs["citation"].startswith("Nobody")
    assert pp.value("zz", "a") == 1.5
    with pytest.raises(KeyError, match="no parameter"):
        pp.value("zz", "c")
    with pytest.raises(ValueError, match="duplicate"):
        pp.register("zz", "x", [pp.PaperParameter("a", 1, "1", "s")] * 2)
    with pytest.raises(KeyError, match="no twin parameter table"):
        pp.table("nope")


def test_table_002_units_and_the_twin_follows_it():
    """Cao et al. 2023: every unit parses; the soft-short twin's truth follows the table's
    layer fractions (layer 1 at the cathode side, layer 10 at the Li anode)."""
    import pint

    from ssbscope.twin import ct

    ureg = pint.UnitRegistry()
    df = pp.table("002")
    assert "adfm.202307998" in df.attrs["citation"]
    for u in df["unit"]:
        ureg.Unit(u)
    l1 = pp.value("002", "layer fraction, layer 1 (cathode side)")
    l10 = pp.value("002", "layer fraction, layer 10 (Li anode side)")
    assert (l1, l10) == (9.91, 30.65)
    ph = ct.soft_short_002(n_xy=40, n_z=64, voxel_size_um=3.0, e_kev=22.0, seed=2)
    paper = ph.truth["layer_fraction_paper_order"]
    assert 100 * paper[0] == pytest.approx(l1, abs=1.0)
    assert 100 * paper[-1] == pytest.approx(l10, abs=1.0)
