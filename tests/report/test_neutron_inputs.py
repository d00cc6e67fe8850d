"""Report of real neutron series (``neutron/input/<label>``): space–time map of binned series."""

import numpy as np
import xarray as xr

from ssbscope.report.neutron import section
from ssbscope.store import Store


def _series(binned: bool) -> xr.Dataset:
    nt, ny, nx = 65, 12, 8
    tr = np.full((nt, ny, nx), 0.6, np.float32)
    ds = xr.Dataset({"transmission": (("frame", "y", "x"), tr, {"units": "1"}),
                     "mean_transmission": ("frame", tr.mean(axis=(1, 2)).astype(float), {"units": "1"}),
                     "n_gamma_spots": ("frame", np.zeros(nt, np.int64))},
                    coords={"frame": np.arange(nt), "time_s": ("frame", 10.0 * np.arange(nt))},
                    attrs={"normalised": True, "normalisation": "Eq. 1", "time_source": "TIME_S"})
    if not binned:
        ds.attrs["binning"] = "none: bin_frames=1 (binning switched off in the input)"
        return ds
    prof = np.ones((2, ny), np.float32)
    prof[1, 4:6] = 0.75
    ds = ds.assign_coords(bin=np.arange(2), time_s_bin=("bin", [145.0, 445.0], {"units": "s"}))
    ds["transmission_ratio"] = (("bin", "y", "x"), np.repeat(prof[:, :, None], nx, axis=2),
                                {"units": "1", "reference_bin": 0})
    ds["ratio_profile"] = (("bin", "y"), prof, {"units": "1", "ratio": "transmission_ratio"})
    ds.attrs.update({"binning": "median of 30 consecutive frames: 2 bin(s)", "bin_frames": 30,
                     "frames_dropped": 5, "reference_bin": 0})
    return ds


def test_binned_input_gets_space_time_map_and_bins_column(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    st.write("neutron/input/op", _series(True))
    st.write("neutron/input/off", _series(False))
    sec = section(st)
    html = sec.html
    assert html.count("<figure>") == 3  # two input figures, one space-time map (binned only)
    assert "op: space–time map of the transmission change ratio Tr_t/Tr_0" in html
    assert "off: space–time map" not in html
    assert "<th>bins</th>" in html.replace(' style="text-align: right;"', "")
    assert "2 × 30 frames (5 dropped)" in html
    assert "none: bin_frames=1" in html
    assert dict(sec.summary)["neutron op"].endswith("2 median bins of 30")
