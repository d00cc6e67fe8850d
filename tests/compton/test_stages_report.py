"""XCS area wiring and the report section on an empty store (the series' report is checked on
the twin's series run through ``ssbscope run``, tests/compton/test_series.py and the demo)."""

from ssbscope.store import Store


def test_report_section_is_absent_without_xcs_results(tmp_path):
    from ssbscope.report.compton import section

    assert section(Store.create(tmp_path / "s.zarr")) is None


def test_no_in_memory_xcs_study_is_left():
    from ssbscope import compton
    from ssbscope.compton import stages
    from ssbscope.twin.demo import TWIN_STUDIES

    assert not hasattr(stages, "demo_stages") and callable(stages.input_stages)
    assert "compton" not in TWIN_STUDIES
    keys = compton.AREA.store_keys
    assert "compton/<series>/ct_fractions" in keys and "compton/<series>/profiles" in keys
    assert not any(k.count("/") == 1 for k in keys)  # no compton/emf, compton/profiles, ...
