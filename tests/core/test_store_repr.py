"""The Jupyter view of a store: datasets, variables with dims/shapes/units, sizes, stage."""

import html
import re

import numpy as np
import xarray as xr

from ssbscope.store import Store, provenance_record
from ssbscope.store_repr import store_summary


def test_store_html_repr_lists_datasets_variables_units_sizes_and_stage(tmp_path):
    st = Store.create(tmp_path / "s.zarr", attrs={"experiment": {"name": "cell <A>"}})
    st.write("echem/timeseries", xr.Dataset({"voltage_V": ("time_s", np.linspace(3, 4, 50)),
                                             "current_mA": ("time_s", np.ones(50))},
                                            coords={"time_s": np.arange(50.0)}),
             provenance=provenance_record(stage="echem_read"))
    vol = np.zeros((8, 6, 4), np.float32)
    st.write("tomo/c/scans/s0", xr.Dataset(
        {"volume": (("z", "y", "x"), vol, {"units": "1/pixel", "ome_image": "image"})},
        attrs={"voxel_size_um": 2.0}), provenance=provenance_record(stage="tomo_input"))
    page = st._repr_html_()
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "cell <A>" in text and "<A>" not in page  # escaped
    for s in ("echem/timeseries", "voltage_V", "V", "mA", "echem_read", "tomo/c/scans/s0",
              "tomo_input", "1/pixel", "8 × 6 × 4", "(z, y, x)", "image (2 levels)"):
        assert s in text, s
    assert "s1/volume" not in text and "volume_s1" not in text  # pyramid levels are not variables
    # a dataset of two images (height and thickness maps) counts the levels of each, not their sum
    maps = np.zeros((2, 8, 8), np.float32)
    st.write("tomo/c/maps", xr.Dataset(
        {"height_um": (("t", "y", "x"), maps, {"ome_image": "image"}),
         "thickness_um": (("t", "y", "x"), maps, {"ome_image": "image"})},
        attrs={"voxel_size_um": 2.0}), provenance=provenance_record(stage="tomo_series"))
    text = html.unescape(re.sub(r"<[^>]+>", " ", st._repr_html_()))
    assert "2 images (2 levels each)" in text
    rows = {r["name"]: r for r in store_summary(st)}
    # sizes on disk: the sum of the dataset's files
    for name, r in rows.items():
        d = st.path.joinpath(*name.split("/"))
        assert r["size_bytes"] == sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    v = {x["name"]: x for x in rows["echem/timeseries"]["variables"]}
    assert v["voltage_V"]["shape"] == (50,) and v["voltage_V"]["units"] == "V"
    assert v["current_mA"]["dims"] == ("time_s",)
