"""The neutron-CT table shows a "twin truth" column only where a truth file was kept (issue
12: the report puts truth beside a measured value only where a truth file is present; the
demo's store re-reported without its truth still showed the column, filled with dashes)."""

from __future__ import annotations

import xarray as xr


class _Store:
    def __init__(self, truth):
        self.attrs = {"truth": truth}


def _ct():
    return xr.Dataset({"li_gained_mm3": ((), 0.5), "li_lost_mm3": ((), 0.25)},
                      attrs={"shift_zyx_vox": [1.0, -2.0, 1.5], "noise_1_cm": 0.017,
                             "before": "ct_before", "after": "ct_after"})


def test_no_truth_column_without_a_truth_file():
    from ssbscope.report.neutron import _ct_table

    html = str(_ct_table(_Store(None), _ct()))
    assert "twin truth" not in html and "0.5" in html and "1.00, -2.00, 1.50" in html


def test_truth_column_beside_the_values_with_a_truth_file():
    from ssbscope.report.neutron import _ct_table

    tru = {"neutron": {"ct": {"shift_zyx_vox": [1.0, -2.0, 1.5], "li_gained_mm3": 0.52}}}
    html = str(_ct_table(_Store(tru), _ct()))
    assert "twin truth" in html and "0.52" in html
