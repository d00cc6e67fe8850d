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
