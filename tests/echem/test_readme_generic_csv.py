"""The README's generic-CSV example (echem section) is valid and reads as it says.

The `columns:` mapping of an echem input is documented with an example whose file header is
written in a comment; here that file is written, the YAML block is taken from the README
verbatim, validated against the experiment schema and read with its mapping, and the
converted values are checked by hand (h -> s, mV -> V, uA -> A, sign flipped).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _readme_block():
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    hit = [b for b in blocks if "cycler_export.csv" in b]
    assert len(hit) == 1, "README: the generic CSV mapping example is missing"
    return hit[0]


def test_readme_csv_mapping_example_reads_as_documented(tmp_path):
    from ssbscope.config import load
    from ssbscope.echem.io import read

    block = _readme_block()
    header = re.search(r"#\s*(Zeit.*?)\s*<-", block).group(1)
    assert header == "Zeit (h);Spannung (mV);Strom;Zyklus"
    (tmp_path / "cycler_export.csv").write_text(
        "Instrument: home-built\n" + header + "\n"
        "0,0;3000,5;0,0;1\n0,5;3010,1;-100,0;1\n1,0;3020,2;-100,0;1\n1,5;3020,2;0,0;2\n")
    (tmp_path / "experiment.yaml").write_text("cell: {area_cm2: 1.0}\n" + block)
    exp = load(tmp_path / "experiment.yaml")
    item = exp.inputs.echem[0]
    assert item.format == "csv" and item.invert_current
    df = read(tmp_path / "cycler_export.csv", format=item.format, invert_current=item.invert_current,
              **dict(item.columns))
    np.testing.assert_allclose(df["time_s"], [0, 1800, 3600, 5400])
    np.testing.assert_allclose(df["voltage_V"], [3.0005, 3.0101, 3.0202, 3.0202])
    np.testing.assert_allclose(df["current_A"], [0, 1e-4, 1e-4, 0], atol=1e-12)
    np.testing.assert_array_equal(df["cycle"], [1, 1, 1, 2])


@pytest.mark.parametrize("header, expect_current_a", [
    ("time_s,voltage_V,current_A", 2.0), ("Time (s),Voltage (V),Current (mA)", 2e-3),
    ("Time / s,Voltage / V,I/mA", 2e-3), ("test_time_s,Ewe/V,current", 2.0),
])
def test_readme_names_found_without_mapping(tmp_path, header, expect_current_a):
    from ssbscope.echem.io import read

    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    for name in header.split(","):
        assert f"`{name}`" in readme, name
    f = tmp_path / "log.csv"
    f.write_text(header + "\n0,3.0,0\n10,3.1,2\n20,3.2,2\n")
    df = read(f)
    np.testing.assert_allclose(df["current_A"].to_numpy()[1:], expect_current_a)
    np.testing.assert_allclose(df["time_s"], [0, 10, 20])
