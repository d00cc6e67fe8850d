"""The generic CSV `columns:` mapping through the CLI (README "columns:").

Reproductions: ``nan_policy`` written inside ``columns:`` crashed ``ssbscope run`` with a
TypeError (read() got it twice) and passed ``validate``; a missing column told the user to call
``read(path, voltage_V=...)`` in Python. Each is now refused with exit 2 and one line that says
what YAML to write.
"""
from __future__ import annotations

import pytest

LOG = "0,3.0,0.001\n1,3.1,0.001\n2,3.2,0.001\n3,3.3,-0.001\n4,3.2,-0.001\n5,3.1,-0.001\n"


def _write(tmp_path, header, inp):
    (tmp_path / "log.csv").write_text(header + "\n" + LOG)
    y = tmp_path / "exp.yaml"
    y.write_text("cell: {area_cm2: 1.0}\ninputs:\n  echem:\n    - " + inp + "\n")
    return y


def _cli(args, capsys):
    from ssbscope.cli import main

    capsys.readouterr()
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _lines(text):
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("[ssbscope]")]


@pytest.mark.parametrize("key, value, shown", [("nan_policy", "drop", "nan_policy: drop"),
                                               ("invert_current", "true", "invert_current: true"),
                                               ("format", "csv", "format: csv")])
def test_input_setting_inside_columns_refused_by_validate_and_run(tmp_path, capsys, key, value, shown):
    y = _write(tmp_path, "time_s,voltage_V,current_A",
               f"{{path: log.csv, format: csv, columns: {{time_s: time_s, {key}: {value}}}}}")
    rc, out, err = _cli(["validate", str(y)], capsys)
    assert rc == 2
    probs = _lines(out)
    assert len(probs) == 1, out
    assert f"inputs.echem[0].columns: '{key}' is a setting of the input, not a column" in probs[0]
    assert f"{{path: log.csv, {shown}, columns: {{...}}}}" in probs[0]
    rc, out, err = _cli(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert rc == 2
    assert len(_lines(err)) == 1, err
    assert "TypeError" not in err and "is a setting of the input" in err


@pytest.mark.slow(seconds=5)
def test_nan_policy_beside_columns_is_accepted(tmp_path, capsys):
    # where it belongs: a NaN voltage row is dropped, the run succeeds
    (tmp_path / "log.csv").write_text("T,U,I\n" + LOG.replace("3.2,-0.001", "nan,-0.001", 1))
    y = tmp_path / "exp.yaml"
    y.write_text("cell: {area_cm2: 1.0}\ninputs:\n  echem:\n    - {path: log.csv, format: csv, "
                 "nan_policy: drop, columns: {time_s: T, voltage_V: U, current_A: I}}\n")
    rc, _, err = _cli(["run", str(y), "--out", str(tmp_path / "out"), "--quiet", "--no-report"],
                      capsys)
    assert rc == 0, err
    from ssbscope.store import Store

    ds = Store.open(tmp_path / "out").read("echem/timeseries")
    assert ds["voltage_V"].size == 5  # 6 rows, the NaN one dropped
    assert "drop" in str(ds.attrs.get("warnings", "")) or "NaN" in str(ds.attrs.get("warnings", ""))


def test_unknown_columns_key_refused(tmp_path, capsys):
    y = _write(tmp_path, "time_s,voltage_V,current_A",
               "{path: log.csv, columns: {voltage: U}}")
    rc, out, _ = _cli(["validate", str(y)], capsys)
    assert rc == 2
    assert "inputs.echem[0].columns: unknown key 'voltage'" in out and "voltage_V" in out


def test_missing_column_error_says_what_yaml_to_write(tmp_path, capsys):
    y = _write(tmp_path, "T,U,I", "{path: log.csv, format: csv, columns: {time_s: T, current_A: I}}")
    rc, _, err = _cli(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert rc == 2
    lines = _lines(err)
    assert len(lines) == 1, err
    msg = lines[0]
    assert "columns found: ['T', 'U', 'I']" in msg
    # the YAML to write, keeping the user's mapping, under this input; no Python call
    assert 'write `columns: {time_s: "T", current_A: "I", voltage_V: "<column header>"}`' in msg
    assert "{path: log.csv, ...}" in msg
    assert "read(" not in msg and "keyword argument" not in msg


def test_mapped_column_absent_says_what_yaml_to_write(tmp_path, capsys):
    y = _write(tmp_path, "T,U,I",
               "{path: log.csv, format: csv, columns: {time_s: T, voltage_V: Volt, current_A: I}}")
    rc, _, err = _cli(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert rc == 2
    lines = _lines(err)
    assert len(lines) == 1, err
    # refused before any stage by the header check of validate (the run calls it)
    assert "inputs.echem[0].columns.voltage_V: 'Volt' is not a column header of log.csv" in lines[0]
    assert "headers found: ['T', 'U', 'I']" in lines[0]
    # the stage's own check (a file changed after validation) words the fix as YAML
    from ssbscope.echem import read
    from ssbscope.echem.stages import _read_log
    from ssbscope.errors import MissingColumnError

    rec = {"format": "csv", "columns": {"time_s": "T", "voltage_V": "Volt", "current_A": "I"}}
    with pytest.raises(MissingColumnError) as ei:
        _read_log(read, tmp_path / "log.csv", rec)
    msg = str(ei.value)
    assert "columns: maps voltage_V to 'Volt', which the file lacks" in msg
    assert 'columns: {time_s: "T", current_A: "I", voltage_V: "<column header>"}' in msg
    assert "read(" not in msg


def test_columns_keys_match_the_reader():
    # the schema's allowed keys are the reader's mapping keys plus the three unit keys
    from ssbscope.echem.io import read
    from ssbscope.echem.io.tabular import COLUMNS_KEYS, MAPPING_KEYS
    import inspect

    params = inspect.signature(read).parameters
    assert set(COLUMNS_KEYS) - set(MAPPING_KEYS) == {k for k in params if k.endswith("_unit")}


def test_columns_on_an_eis_input_refused(tmp_path, capsys):
    # the impedance readers take no mapping: before, it was silently ignored
    y = _write(tmp_path, "time_s,voltage_V,current_A",
               "{path: log.csv, kind: eis, time_s: 0, columns: {time_s: T}}")
    rc, out, _ = _cli(["validate", str(y)], capsys)
    assert rc == 2
    assert "columns: applies to cycling logs only" in out


def test_echem_command_missing_columns_points_to_the_yaml(tmp_path, capsys):
    # `ssbscope echem FILE` takes no mapping: the fix is an experiment input with columns:
    (tmp_path / "log.csv").write_text("T,U,I\n" + LOG)
    rc, _, err = _cli(["echem", str(tmp_path / "log.csv")], capsys)
    assert rc == 2
    lines = _lines(err)
    assert len(lines) == 1, err
    assert ('write `columns: {time_s: "<column header>", voltage_V: "<column header>", '
            'current_A: "<column header>"}` under an input {path: log.csv, ...}') in lines[0]
    assert "ssbscope run" in lines[0] and "read(" not in lines[0]


def test_validate_checks_mapped_headers_against_the_file(tmp_path, capsys):
    # before: validate said "valid" and only the run failed (issue 14 audit)
    y = _write(tmp_path, "Time (s),Ewe (V),I (A)",
               '{path: log.csv, columns: {time_s: "Time (s)", voltage_V: "Ewe(V)", current_A: "I (A)"}}')
    rc, out, _ = _cli(["validate", str(y)], capsys)
    assert rc == 2
    probs = _lines(out)
    assert len(probs) == 1, out
    assert "inputs.echem[0].columns.voltage_V: 'Ewe(V)' is not a column header of log.csv" in probs[0]
    assert "'Ewe (V)'" in probs[0]  # the headers found
    y.write_text(y.read_text().replace('"Ewe(V)"', '"Ewe (V)"'))
    rc, out, _ = _cli(["validate", str(y)], capsys)
    assert rc == 0, out


def test_validate_reads_only_the_head_of_a_table(tmp_path):
    # a preamble, then the header: the mapped names found as the reader finds them, from a
    # head of 64 KiB of a 1.3 MB file (its cut last line is not used)
    from ssbscope.echem.io import read
    from ssbscope.echem.io.tabular import table_header

    body = "".join(f"{i},{3 + i * 1e-6:.6f},0.001\n" for i in range(60000))
    p = tmp_path / "log.csv"
    p.write_text("Cell: A1\nOperator: x\n\nSecs;Volts;Amps\n".replace(";", ",") + body)
    assert p.stat().st_size > 1 << 20
    cols = table_header(p, "csv", ["Secs", "Volts", "Amps"], max_bytes=1 << 16)
    assert cols == ["Secs", "Volts", "Amps"]
    df = read(p, time_s="Secs", voltage_V="Volts", current_A="Amps")
    assert len(df) == 60000 and df["voltage_V"].iloc[-1] == pytest.approx(3 + 59999e-6)
    # non-ASCII headers (UTF-8) read the same when the head ends inside a character
    q = tmp_path / "de.csv"
    q.write_text("Zeit (s);Spannung (V);Strom (µA);Zustand\n"
                 + "".join(f"{i};3,5;1,0;Ladung ü\n" for i in range(3000)), encoding="utf-8")
    raw = q.read_bytes()
    inside = raw.index("ü".encode(), len(raw) // 2) + 1  # between the two bytes of a 'ü'
    for n in (inside, inside + 1):
        assert table_header(q, "csv", ["Strom (µA)"], max_bytes=n) == \
            ["Zeit (s)", "Spannung (V)", "Strom (µA)", "Zustand"]


def test_validate_refuses_columns_on_an_instrument_binary(tmp_path, capsys):
    import shutil

    from ssbscope.testing import realdata_dir

    src = realdata_dir("potentiostat", "navani_00_test_01_OCV_C01.mpr")
    if not src.exists():
        pytest.skip("realdata not present")
    shutil.copy(src, tmp_path / "c.mpr")
    y = tmp_path / "exp.yaml"
    y.write_text("inputs:\n  echem:\n    - {path: c.mpr, columns: {time_s: t}}\n")
    rc, out, _ = _cli(["validate", str(y)], capsys)
    assert rc == 2
    assert "c.mpr is read by its instrument reader (biologic-mpr)" in out


def test_eis_without_a_cycling_log_is_refused_by_validate(tmp_path, capsys):
    # before: validate said "valid", the run refused naming the folder in "run 'ssbscope
    # validate <folder>'" (issue 14 audit)
    (tmp_path / "z.csv").write_text("x\n")
    y = tmp_path / "exp.yaml"
    y.write_text("inputs:\n  echem:\n    - {path: z.csv, kind: eis, time_s: 0}\n")
    rc, out, _ = _cli(["validate", str(y)], capsys)
    assert rc == 2
    probs = _lines(out)
    assert len(probs) == 1 and "inputs.echem: EIS inputs need a cycling log too" in probs[0], out
    rc, _, err = _cli(["run", str(y), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert rc == 2 and f"run 'ssbscope validate {y}'" in err
