"""The interface section's hot-spot table reads in short parts (issue 15, item 4): a one-line
caption says what the table is; the notes under it, each a heading and a list of short items,
say what the columns show, how skill is decided, the test beyond the height (when the store
has it) and the caveats.  The numbers in the table are the dataset's."""

import re

import numpy as np
import pytest
import xarray as xr


def _ds(cond: bool):
    nan = np.nan
    v = {"verdict": ("interval", ["no comparison", "not resolvable", "resolvable"]),
         "predicted_contrast": ("interval", [nan, 0.021, 0.3]),
         "measured_noise_floor": ("interval", [nan, 0.14, 0.05]),
         "contrast_to_noise": ("interval", [nan, 0.15, 6.0]),
         "correlation": ("interval", [nan, 0.16, 0.8]),
         "correlation_z": ("interval", [nan, 1.0, 9.0]),
         "overlap": ("interval", [nan, 0.11, 0.7]),
         "overlap_z": ("interval", [nan, 0.1, 8.0]),
         "baseline_overlap": ("interval", [nan, 0.10, 0.1]),
         "baseline_overlap_std": ("interval", [nan, 0.09, 0.05])}
    if cond:
        v.update({"skill_beyond_height": ("interval", ["no comparison", "no skill beyond height",
                                                       "skill beyond height"]),
                  "partial_correlation": ("interval", [nan, -0.21, 0.6]),
                  "partial_correlation_z": ("interval", [nan, -1.9, 5.0]),
                  "partial_correlation_p": ("interval", [nan, 0.97, 0.001]),
                  "conditional_overlap_z": ("interval", [nan, -0.7, 4.0]),
                  "conditional_baseline_overlap": ("interval", [nan, 0.16, 0.2]),
                  "conditional_baseline_overlap_std": ("interval", [nan, 0.07, 0.05]),
                  "height_only_overlap": ("interval", [nan, 0.36, 0.3])})
    return xr.Dataset(v, attrs={"smoothing_um": 0.0, "prediction_height": "mid_interval"})


@pytest.mark.parametrize("cond", [True, False])
def test_hot_spot_table_has_a_short_caption_and_notes_in_parts(cond):
    from ssbscope.report.interface import _hot_spot_table

    html, summary = _hot_spot_table(_ds(cond), "s", [0, 1, 2])
    html = str(html)
    caption = re.search(r"<caption>(.*?)</caption>", html, re.S).group(1)
    assert len(caption) < 200, caption  # one sentence: what the table is
    heads = re.findall(r"<p><b>(.*?)</b></p>", html)
    assert heads == ["What is shown", "How skill is decided"] + (
        ["Beyond the height"] if cond else []) + ["Caveats"]
    items = re.findall(r"<li>(.*?)</li>", html, re.S)
    assert len(items) >= (14 if cond else 9)
    assert max(len(i) for i in items) < 320, max(items, key=len)  # no dense paragraph
    assert html.index("</table>") < html.index("What is shown")  # the notes under the table
    # the table's numbers: skill in brackets where the map cannot resolve the contrast
    assert "[0.16 (z 1.0)]" in html and "0.80 (z 9.0)" in html and "[0.80" not in html
    assert ("skill beyond height" in html) == cond
    assert summary[0][1].startswith("resolvable")
