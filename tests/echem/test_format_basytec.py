"""Issue 14: a BaSyTec Battery Test System text export can be named in the YAML
(``format: basytec``), not only recognised by its header.

Real file: PyProBE's sample export (BSD-3-Clause; tests/data/realdata/MANIFEST.md). References:
the file's own charge counter ``Ah[Ah]`` (Faraday), its record count and its 12 preamble lines
counted here from the text.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ssbscope import echem
from ssbscope.errors import MissingColumnError

REAL = Path(__file__).resolve().parents[1] / "data" / "realdata" / "basytec" / "pyprobe_sample_data_basytec.txt"


def _independent():
    """Records of the file read by hand: (time s, U V, I A, Ah) of each data line."""
    lines = REAL.read_text(encoding="latin-1").splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("~Time[s]\t"))
    head = lines[k].split("\t")
    rows = [ln.split("\t") for ln in lines[k + 1:] if ln.strip()]
    col = {n: head.index(n) for n in ("~Time[s]", "U[V]", "I[A]", "Ah[Ah]")}
    return k, {n: np.array([float(r[j]) for r in rows]) for n, j in col.items()}


def test_read_with_format_basytec_matches_the_file_rows():
    k, ref = _independent()
    df = echem.read(REAL, format="basytec")
    assert df.attrs["instrument"] == "BaSyTec" and df.attrs["preamble_lines"] == k == 12
    assert df.attrs["start_time"] == "2023-06-19T17:56:53"  # '~Start of Test: 19.06.2023 17:56:53'
    assert len(df) == ref["I[A]"].size == 74
    np.testing.assert_array_equal(df["time_s"].to_numpy(), ref["~Time[s]"])
    np.testing.assert_array_equal(df["voltage_V"].to_numpy(), ref["U[V]"])
    np.testing.assert_array_equal(df["current_A"].to_numpy(), ref["I[A]"])
    t, i = ref["~Time[s]"], ref["I[A]"]  # Faraday: the file's own counter, 5e-6 Ah (its rounding)
    q_ah = np.concatenate([[0.0], np.cumsum(np.diff(t) * i[1:])]) / 3600.0
    np.testing.assert_allclose(q_ah, ref["Ah[Ah]"], atol=5e-6)


def test_format_basytec_on_another_table_names_the_missing_columns(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("Time (s),Voltage (V),Current (A)\n0,3.0,0.001\n1,3.1,0.001\n2,3.2,0.001\n")
    with pytest.raises(MissingColumnError, match=r"BaSyTec export lacks column\(s\) for "
                                                 r"\['time_s', 'voltage_V', 'current_A'\]"):
        echem.read(p, format="basytec")


def _cli(args, capsys):
    from ssbscope.cli import main

    capsys.readouterr()
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_yaml_format_basytec_passes_validate_and_run(tmp_path, capsys):
    """Schema, ``validate`` and ``run``: before, ``format: basytec`` was refused by the schema
    (validate exit 2, "input should be 'auto', 'mpr', ..."). The stored series is the file's."""
    from ssbscope.schema import json_schema
    from ssbscope.store import Store

    text = str(json_schema())
    assert "'basytec'" in text
    shutil.copy(REAL, tmp_path / "basytec.txt")
    y = tmp_path / "exp.yaml"
    y.write_text("cell: {area_cm2: 1.0}\ninputs:\n  echem:\n    - {path: basytec.txt, format: basytec}\n")
    rc, out, err = _cli(["validate", str(y)], capsys)
    assert rc == 0, out + err
    rc, out, err = _cli(["run", str(y), "--out", str(tmp_path / "out"), "--quiet", "--no-report"],
                        capsys)
    assert rc == 0, err
    ds = Store.open(tmp_path / "out").read("echem/timeseries")
    _, ref = _independent()
    np.testing.assert_array_equal(np.asarray(ds["current_A"].values), ref["I[A]"])
    np.testing.assert_array_equal(np.asarray(ds["voltage_V"].values), ref["U[V]"])
    import json

    assert json.loads(ds.attrs["provenance"])["parameters"]["logs"][0]["format"] == "basytec"


def test_yaml_format_basytec_with_a_columns_mapping_is_checked_by_validate(tmp_path, capsys):
    shutil.copy(REAL, tmp_path / "basytec.txt")
    y = tmp_path / "exp.yaml"
    y.write_text("cell: {area_cm2: 1.0}\ninputs:\n  echem:\n    - {path: basytec.txt, format: basytec, "
                 "columns: {voltage_V: 'U [V]'}}\n")
    rc, out, _ = _cli(["validate", str(y)], capsys)
    assert rc == 2
    assert "inputs.echem[0].columns.voltage_V: 'U [V]' is not a column header of basytec.txt" in out
    assert "'U[V]'" in out  # the headers found, after the 12-line preamble
