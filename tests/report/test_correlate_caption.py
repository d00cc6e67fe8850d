"""The imaging-vs-echem figure's caption names only what it plots (issue 12 audit: a CT-only
series' caption described neutron diamonds that were not there)."""

import numpy as np
import xarray as xr


def test_ct_only_caption_names_no_neutron():
    from ssbscope.report.correlate import _figure

    ds = xr.Dataset({"series": ("time_s", np.array(["sym"] * 3, dtype=object)),
                     "charge_since_first_mah_cm2": ("time_s", [0.0, 1.5, 3.0]),
                     "plated_thickness_change_um": ("time_s", [0.0, 7.1, 14.4]),
                     "plated_volume_change_per_area_um": ("time_s", [0.0, 7.1, 14.4])},
                    coords={"time_s": [0.0, 14400.0, 28800.0]})
    html = str(_figure(ds, ["sym"]))
    assert "thickness change (CT, dots)" in html and "squares" in html
    assert "neutron" not in html and "diamonds" not in html
