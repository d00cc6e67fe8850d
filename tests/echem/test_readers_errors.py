"""Bad input to the readers: each a specific error naming the file and the fix, nothing written."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from ssbscope import echem
from ssbscope.errors import (
    DataQualityError,
    FileFormatError,
    MissingColumnError,
    ParameterError,
    UnsupportedFormatError,
)
from ssbscope.testing import realdata_dir

REAL = realdata_dir("potentiostat")
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")


def _csv(path, rows, header="time_s,voltage_V,current_A,step"):
    path.write_text(header + "\n" + "\n".join(",".join(str(x) for x in r) for r in rows) + "\n")
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match=r"nope\.mpr: file not found"):
        echem.read(tmp_path / "nope.mpr")
    with pytest.raises(FileFormatError, match=r"file not found"):
        echem.read_eis(tmp_path / "nope.DTA")


@pytest.mark.parametrize("name", ["empty.mpr", "empty.csv", "empty.DTA"])
def test_empty_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(FileFormatError, match=rf"{name}: file is empty"):
        echem.read(tmp_path / name)


def test_directory_is_refused(tmp_path):
    with pytest.raises(FileFormatError, match="not a regular file"):
        echem.read(tmp_path)


def test_header_only_csv(tmp_path):
    p = _csv(tmp_path / "h.csv", [])
    with pytest.raises(FileFormatError, match=r"h\.csv: contains a header but no data rows"):
        echem.read(p)


@needs_real
@pytest.mark.parametrize("keep", [0.5, 0.999, 200])
def test_truncated_mpr(tmp_path, keep):
    raw = (REAL / "navani_gcpl_5cycles_C09.mpr").read_bytes()
    n = int(len(raw) * keep) if keep < 1 else keep
    p = tmp_path / "cut.mpr"
    p.write_bytes(raw[:n])
    with pytest.raises(FileFormatError, match=r"cut\.mpr: galvani could not parse this \.mpr .*truncated"):
        echem.read(p)
    with pytest.raises(FileFormatError, match=r"cut\.mpr"):
        echem.read_eis(p)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["cut.mpr"]  # nothing else written


def test_mpr_extension_with_other_content(tmp_path):
    p = _csv(tmp_path / "fake.mpr", [(0, 3, 0)])
    with pytest.raises(FileFormatError, match=r"fake\.mpr: has the \.mpr extension but its content"):
        echem.read(p)
    with pytest.raises(FileFormatError, match=r"not a BioLogic \.mpr"):
        echem.read(p, format="biologic-mpr")


def test_unknown_binary_and_unknown_format_name(tmp_path):
    p = tmp_path / "blob.bin"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FileFormatError, match=r"blob\.bin: binary file of unknown format"):
        echem.read(p)
    q = _csv(tmp_path / "ok.csv", [(0, 3, 0, 1)])
    with pytest.raises(ParameterError, match=r"format='xlsx': unknown format"):
        echem.read(q, format="xlsx")


def test_neware_and_arbin_binary_stubs_detected_by_content_and_refused(tmp_path):
    """Only the magic bytes of a Neware .nda / an Access (Arbin .res) file: recognised by
    content, then refused naming the file and the way out (the readers of the extras find no
    data; without the extras, the extra to install)."""
    from ssbscope.echem.io import sniff_format

    (tmp_path / "run.nda").write_bytes(b"NEWARE20200325" + b"\x00" * 64)
    assert sniff_format(tmp_path / "run.nda") == "neware-nda"
    with pytest.raises((UnsupportedFormatError, FileFormatError),
                       match=r"run\.nda: .*Neware.*(export CSV|ssbscope\[neware\])"):
        echem.read(tmp_path / "run.nda")
    (tmp_path / "run.dat").write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00" + b"\x00" * 64)
    assert sniff_format(tmp_path / "run.dat") == "arbin-res"
    with pytest.raises((UnsupportedFormatError, FileFormatError),
                       match=r"run\.dat: .*Arbin \.res.*(export CSV|ssbscope\[arbin\])"):
        echem.read(tmp_path / "run.dat")


def test_csv_missing_columns_lists_found_columns_and_keys(tmp_path):
    p = _csv(tmp_path / "r.csv", [(0, 3.0, 0.1), (1, 3.1, 0.1)], header="Time (s),Ecell (V),Current (A)")
    # "Time (s)" and "Current (A)" are recognised by name (generic aliases); "Ecell (V)" is not
    with pytest.raises(MissingColumnError,
                       match=r"r\.csv: table lacks column\(s\) for \['voltage_V'\]; "
                             r"columns found: \['Time \(s\)', 'Ecell \(V\)', 'Current \(A\)'\].*voltage_V='<column>'"):
        echem.read(p)
    df = echem.read(p, time_s="Time (s)", voltage_V="Ecell (V)", current_A="Current (A)")
    assert df["voltage_V"].tolist() == [3.0, 3.1]


def test_renamed_column_in_vendor_export(tmp_path):
    p = _csv(tmp_path / "arb.csv", [(0, 0.0, 0.1, 3.0)], header="Data_Point,Test_Time,Amps,Voltage")
    with pytest.raises(MissingColumnError, match=r"Arbin export lacks column\(s\) for \['current_A'\].*Amps"):
        echem.read(p)
    assert echem.read(p, current_A="Amps")["current_A"].tolist() == [0.1]


def test_time_going_backwards(tmp_path):
    p = _csv(tmp_path / "b.csv", [(0, 3, 0, 1), (1, 3, 0, 1), (2, 3.1, 0, 1), (1.5, 3.2, 0, 1), (3, 3, 0, 1)])
    with pytest.raises(DataQualityError, match=r"b\.csv: time_s goes backwards at row 3 \(2\.0 s -> 1\.5 s"):
        echem.read(p)


def test_exact_duplicate_rows_dropped_with_warning(tmp_path, caplog):
    rows = [(0, 3, 0, 1), (1, 3.1, 0.1, 1), (1, 3.1, 0.1, 1), (2, 3.2, 0.1, 1)]
    p = _csv(tmp_path / "d.csv", rows)
    with caplog.at_level(logging.WARNING, logger="ssbscope.echem.io.common"):
        df = echem.read(p)
    assert df["time_s"].tolist() == [0, 1, 2]
    assert "dropped 1 exact duplicate row(s) (rows 2)" in caplog.text
    assert any("exact duplicate" in w for w in df.attrs["warnings"])


def test_duplicate_timestamp_with_different_values_is_an_error(tmp_path):
    p = _csv(tmp_path / "t.csv", [(0, 3, 0, 1), (1, 3.1, 0.1, 1), (1, 3.15, 0.1, 1), (2, 3.2, 0.1, 1)])
    with pytest.raises(DataQualityError, match=r"t\.csv: duplicate timestamp time_s=1\.0 s at row 2"):
        echem.read(p)


def test_duplicate_timestamp_at_a_step_change_is_kept(tmp_path):
    p = _csv(tmp_path / "s.csv", [(0, 3, 0, 1), (1, 3.1, 0.1, 1), (1, 3.1, 0.0, 2), (2, 3.0, 0.0, 2)])
    df = echem.read(p)
    assert len(df) == 4 and "warnings" not in df.attrs


def test_duplicate_timestamp_with_record_numbers_is_kept_with_warning(tmp_path, caplog):
    head = "DataPoint,Step Type,Total Time,Current(A),Voltage(V),Step Index,Cycle Index"
    rows = [(1, "CC Chg", "00:00:00", 0.1, 3.0, 1, 1), (2, "CC Chg", "00:00:01", 0.1, 3.1, 1, 1),
            (3, "CC Chg", "00:00:01", 0.1, 3.12, 1, 1), (4, "CC Chg", "00:00:02", 0.1, 3.2, 1, 1)]
    p = _csv(tmp_path / "nw.csv", rows, header=head)
    with caplog.at_level(logging.WARNING):
        df = echem.read(p)
    assert len(df) == 4 and "kept in record order" in caplog.text


def test_nan_voltage_raise_or_drop(tmp_path, caplog):
    rows = [(0, 3.0, 0.1, 1), (1, "", 0.1, 1), (2, 3.2, 0.1, 1), (3, "nan", 0.1, 1), (4, 3.3, 0.1, 1)]
    p = _csv(tmp_path / "n.csv", rows)
    with pytest.raises(DataQualityError,
                       match=r"n\.csv: NaN in \['voltage_V'\] at row\(s\) 1, 3 \(2 of 5 rows\); pass nan_policy='drop'"):
        echem.read(p)
    with caplog.at_level(logging.WARNING):
        df = echem.read(p, nan_policy="drop")
    assert df["time_s"].tolist() == [0, 2, 4]
    assert "dropped 2 row(s) with NaN" in caplog.text
    with pytest.raises(ParameterError, match="nan_policy"):
        echem.read(p, nan_policy="ignore")


def test_nan_time_is_an_error(tmp_path):
    p = _csv(tmp_path / "nt.csv", [(0, 3.0, 0.1, 1), ("", 3.1, 0.1, 1)])
    with pytest.raises(DataQualityError, match=r"nt\.csv: time_s is missing, NaN or infinite at row\(s\) 1"):
        echem.read(p)


def test_non_numeric_current(tmp_path):
    p = _csv(tmp_path / "x.csv", [(0, 3.0, 0.1, 1), (1, 3.1, "overload", 1)])
    with pytest.raises(FileFormatError, match=r"x\.csv: column 'current_A' \(current_A\) holds non-numeric text at data row 1"):
        echem.read(p)


def test_truncated_mpt(tmp_path):
    text = "EC-Lab ASCII FILE\nNb header lines : 40\n\nGalvanostatic\n"
    (tmp_path / "t.mpt").write_text(text)
    with pytest.raises(FileFormatError, match=r"t\.mpt: 'Nb header lines : 40' but the file has 4 lines"):
        echem.read(tmp_path / "t.mpt")


def test_truncated_gamry_table(tmp_path):
    text = ("EXPLAIN\nTAG\tEISPOT\nZCURVE\tTABLE\t5\n\tPt\tTime\tFreq\tZreal\tZimag\tZmod\tZphz\n"
            "\t#\ts\tHz\tohm\tohm\tohm\t°\n\t0\t1\t1000\t10\t-1\t10.05\t-5.7\n")
    (tmp_path / "z.DTA").write_text(text, encoding="latin-1")
    # one rule for every table type (issue 14): the rows present are used, with a warning
    z = echem.read_eis(tmp_path / "z.DTA")
    assert len(z) == 1
    assert any("table ZCURVE declares 5 rows but holds 1" in w for w in z.attrs["warnings"])
    # more rows than declared is damage, not a cut: refused
    (tmp_path / "m.DTA").write_text(text.replace("TABLE\t5", "TABLE\t0"), encoding="latin-1")
    with pytest.raises(FileFormatError, match=r"m\.DTA: table ZCURVE declares 0 rows but holds 1"):
        echem.read_eis(tmp_path / "m.DTA")


def test_column_mapping_rejected_for_binary_formats(tmp_path):
    text = "EXPLAIN\nTAG\tEISPOT\n"
    (tmp_path / "g.DTA").write_text(text)
    with pytest.raises(ParameterError, match="column mapping applies to text tables"):
        echem.read(tmp_path / "g.DTA", time_s="T")


def test_input_file_is_not_modified(tmp_path):
    p = _csv(tmp_path / "keep.csv", [(0, 3, 0, 1), (1, 3.1, 0.1, 1)])
    before = p.read_bytes(), p.stat().st_mtime_ns
    df = echem.read(p)
    df.loc[0, "voltage_V"] = 99.0
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before
    assert [x.name for x in tmp_path.iterdir()] == ["keep.csv"]
    assert np.isclose(echem.read(p)["voltage_V"].iloc[0], 3.0)
    assert isinstance(df, pd.DataFrame)


@needs_real
def test_mpr_with_columns_galvani_does_not_know(tmp_path, monkeypatch):
    from galvani import BioLogic

    def refuse(*args, **kwargs):
        raise NotImplementedError("Column ID 9999 after column 4 is unknown")

    monkeypatch.setattr(BioLogic, "MPRfile", refuse)
    with pytest.raises(FileFormatError, match=r"hybriddrt_PEIS_SSB\.mpr: galvani could not parse this "
                                              r"\.mpr \(NotImplementedError: Column ID 9999.*export it as \.mpt"):
        echem.read(REAL / "hybriddrt_PEIS_SSB.mpr")


@needs_real
def test_mpt_cut_mid_row(tmp_path):
    raw = (REAL / "ixdat_multiple_techniques_dataset_01_03_CP_C01.mpt").read_bytes()
    cut = raw[: raw.rstrip().rfind(b"\n") + 60]  # the last row loses most of its fields
    p = tmp_path / "cut.mpt"
    p.write_bytes(cut)
    # the cut last row is dropped with a recorded warning (issue 14), not read as NaN
    df = echem.read(p)
    assert len(df) == 30
    assert any("dropped the last data row" in w and "10 of 27 fields" in w for w in df.attrs["warnings"])


# ---------------------------------------------------------------- issue 14: cut rows, absurd values

def _cycler_rows(n=30):
    return [f"{60.0 * k:.1f},{3.5 + 0.001 * k:.4f},{0.001:.6f},1" for k in range(n)]


@pytest.mark.parametrize("cut_at,why", [(-12, "fields"), (-3, "fewer decimals"), (-1, None)])
def test_cut_last_row_of_csv(tmp_path, cut_at, why):
    """A cycler still writing its CSV: the row cut mid-field is dropped with a warning in
    attrs["warnings"]; a complete last row without a line end (cut_at=-1) is kept."""
    rows = [r.rsplit(",", 1)[0] for r in _cycler_rows()]
    text = "time_s,voltage_V,current_A\n" + "\n".join(rows) + "\n"
    p = tmp_path / "w.csv"
    p.write_text(text[:cut_at] if cut_at != -1 else text[:-1])
    df = echem.read(p)
    if why is None:
        assert len(df) == 30 and not df.attrs.get("warnings")
        return
    assert len(df) == 29
    np.testing.assert_allclose(df["voltage_V"], 3.5 + 0.001 * np.arange(29))
    (w,) = df.attrs["warnings"]
    assert "w.csv: dropped the last data row" in w and why in w


@pytest.mark.parametrize("tail,dropped", [("-0.", True), ("-", True), ("1.5e-", True), ("-0.35", False)])
def test_cut_last_row_ending_in_an_incomplete_number(tmp_path, tail, dropped):
    """A current cut to '-0.' (of '-0.25') read as -0.0 A before (audit of issue 14): a sign
    alone, a trailing decimal separator or a bare exponent is a cut number; a complete number
    with as many decimals as the rows before is kept."""
    rows = [f"{60.0 * k:.1f},{3.5 + 0.001 * k:.4f},{0.25 if k < 5 else -0.25}" for k in range(10)]
    p = tmp_path / "w.csv"
    p.write_text("time_s,voltage_V,current_A\n" + "\n".join(rows[:-1]) + "\n540.0,3.5090," + tail)
    df = echem.read(p)
    assert len(df) == (9 if dropped else 10)
    if dropped:
        (w,) = df.attrs["warnings"]
        assert "dropped the last data row" in w and "incomplete number" in w
    else:
        assert not df.attrs.get("warnings")
    # a column written as '5.' in every row is complete numbers, not cut ones
    q = tmp_path / "dots.csv"
    q.write_text("time_s,voltage_V,current_A\n" + "".join(f"{k}.,3.5,{k % 3 + 1}.\n" for k in range(9))
                 + "9.,3.5,2.")
    assert len(echem.read(q)) == 10


def test_cut_last_row_of_maccor_and_gamry_same_rule(tmp_path):
    """The same rule in the Maccor text preset and a Gamry CURVE table (with fewer rows than
    declared: kept, with a warning, in every table type)."""
    head = "Rec#\tCyc#\tStep\tTest Time\tStep Time\tCapacity\tWatt-hr\tAmps\tVolts\tState\tES\tDPt Time\n"
    rows = [f"{k + 1}\t0\t1\t{60.0 * k:.1f}\t{60.0 * k:.1f}\t0.0\t0.0\t0.001000\t{3.5 + 0.001 * k:.4f}\tC\t0\t"
            "01/01/2020 10:00:00" for k in range(10)]
    p = tmp_path / "m.txt"
    p.write_text("Today's Date\t01/02/2020\nDate of Test:\t01/01/2020\n\n" + head + "\n".join(rows)[:-25])
    df = echem.read(p, format="maccor", time_unit="s")
    assert len(df) == 9 and "dropped the last data row" in df.attrs["warnings"][0]
    g = ("EXPLAIN\nTAG\tCHRONOP\nCURVE\tTABLE\t10\n\tPt\tT\tVf\tIm\n\t#\ts\tV vs. Ref.\tA\n"
         + "".join(f"\t{k}\t{1.0 * k:.1f}\t{3.5 + 0.001 * k:.5f}\t{0.001:.6E}\n" for k in range(6)))
    p = tmp_path / "g.DTA"
    p.write_text(g[:-6])
    df = echem.read(p)
    assert len(df) == 5
    ws = df.attrs["warnings"]
    assert any("dropped the last data row" in w for w in ws)
    assert any("table CURVE declares 10 rows but holds 5" in w for w in ws)


@pytest.mark.parametrize("col,value,match", [
    ("voltage_V", "3500.0", r"voltage_V has \|value\| > 100 V at row\(s\) 2"),
    ("current_A", "1e308", r"current_A passes a total charge of inf mAh"),
    ("current_A", "1e5", r"current_A passes a total charge of 1.6\d+e\+06 mAh \(limit 1e\+06 mAh"),
    ("voltage_V", "inf", r"NaN in \['voltage_V'\] at row\(s\) 2"),
    ("current_A", "-inf", r"NaN in \['current_A'\] at row\(s\) 2"),
])
def test_absurd_values_are_refused_naming_file_and_column(tmp_path, col, value, match):
    rows = [[60.0 * k, 3.5, 0.001, 1] for k in range(5)]
    rows[2][["time_s", "voltage_V", "current_A"].index(col)] = value
    p = _csv(tmp_path / "abs.csv", rows)
    with pytest.raises(DataQualityError, match=r"abs\.csv: .*" + match):
        echem.read(p)


def test_yaml_mass_and_area_bounds(tmp_path):
    from ssbscope.config import from_dict
    from ssbscope.errors import ConfigError

    for cell in ({"active_mass_mg": 1e-308}, {"active_mass_mg": 1e-9}, {"area_cm2": 0},
                 {"area_cm2": float("inf")}, {"active_mass_mg": float("nan")}):
        with pytest.raises(ConfigError):
            from_dict({"name": "x", "cell": cell})
    assert from_dict({"name": "x", "cell": {"active_mass_mg": 2e-9}}).cell.active_mass_mg == 2e-9


def test_absurd_area_is_refused_by_the_yaml_and_the_analysis(tmp_path):
    """An electrode area of 1e30 cm2 gave 1e-31 mAh/cm2 in the store with exit 0 (audit of
    issue 14): the cell's and a layer's area and diameter lie in a 1 um disc .. 10 m2."""
    from ssbscope.config import from_dict
    from ssbscope.errors import ConfigError, ParameterError

    for cell in ({"area_cm2": 1e30}, {"area_cm2": 1e-300}, {"diameter_mm": 1e-300},
                 {"diameter_mm": 1e5}, {"layers": [{"name": "a", "material": "Li", "thickness_um": 1,
                                                    "area_cm2": 2e5}]}):
        with pytest.raises(ConfigError, match=r"is outside .* check the unit"):
            from_dict({"name": "x", "cell": cell})
    for ok in ({"area_cm2": 5e-5}, {"diameter_mm": 0.08}, {"area_cm2": 1e5}):
        from_dict({"name": "x", "cell": ok})
    p = _csv(tmp_path / "a.csv", [[60.0 * k, 3.5, 0.001, 1] for k in range(5)])
    df = echem.read(p)
    with pytest.raises(ParameterError, match=r"area_cm2=1e\+30: must lie in 1e-08 to 100000 cm2"):
        echem.summarize(df, area_cm2=1e30)
    assert echem.summarize(df, area_cm2=2.0) is not None


def test_absurd_active_mass_is_refused_by_the_analysis(tmp_path):
    from ssbscope.errors import ParameterError

    p = _csv(tmp_path / "m.csv", [[60.0 * k, 3.5, 0.001, 1] for k in range(5)])
    df = echem.read(p)
    with pytest.raises(ParameterError, match=r"mass_mg=1e-308: must be more than 1e-09 mg"):
        echem.summarize(df, mass_mg=1e-308)
    assert np.isfinite(echem.add_capacity(df, mass_mg=1e-3)["charge_mAh_g"]).all()


def test_maccor_preamble_over_several_lines_header_only_and_with_data(tmp_path, recwarn):
    """A Maccor export whose 'Today's Date' / 'Date of Test' preamble spans several lines: read
    by content (header found at its 'Rec#' line, test date kept); cut after its header: the
    error says there are no data rows and names the real columns (not a preamble line), and
    no pandas ParserWarning reaches the user."""
    head = "Rec#\tCyc#\tStep\tTest Time\tStep Time\tCapacity\tWatt-hr\tAmps\tVolts\tState\tES\tDPt Time\n"
    rows = [f"{k + 1}\t0\t1\t{60.0 * k:.1f}\t{60.0 * k:.1f}\t0.0\t0.0\t0.001000\t{3.5 + 0.001 * k:.4f}"
            "\tC\t0\t01/01/2020 10:00:00" for k in range(10)]
    pre = "Today's Date\t01/02/2020\nDate of Test:\t01/01/2020\n\n"
    p = tmp_path / "m.txt"
    p.write_text(pre + head + "\n".join(rows) + "\n")
    df = echem.read(p)
    assert len(df) == 10 and df.attrs["test_date"] == "01/01/2020"
    np.testing.assert_allclose(df["voltage_V"], 3.5 + 0.001 * np.arange(10))
    p.write_text(pre + head)
    with pytest.raises(FileFormatError, match=r"m\.txt: contains a header but no data rows "
                                              r"\(columns: \['Rec#', 'Cyc#'"):
        echem.read(p)
    assert not [w for w in recwarn if "ParserWarning" in type(w.message).__name__]


def test_repeated_column_name_is_refused_not_guessed(tmp_path):
    """Two 'voltage_V' columns with different values: the reader does not silently take the
    first (pandas renames the second 'voltage_V.1'); it says which name is repeated and how to
    choose one."""
    p = tmp_path / "dup.csv"
    p.write_text("time_s,voltage_V,voltage_V,current_A\n0,3.5,1.0,0.001\n1,3.6,1.1,0.001\n")
    with pytest.raises(FileFormatError, match=r"dup\.csv: column name 'voltage_V' appears more "
                                              r"than once .*voltage_V='voltage_V\.1'"):
        echem.read(p)
    df = echem.read(p, voltage_V="voltage_V.1")
    np.testing.assert_allclose(df["voltage_V"], [1.0, 1.1])


def test_non_table_text_is_refused_without_quoting_it(tmp_path):
    """A text file that is no table (one field per line, like a system file): the error says
    so and does not echo its first line; ragged rows give the line and field counts, not the
    pandas tokenizer's text."""
    p = tmp_path / "os-release"
    p.write_text('PRETTY_NAME="Secret OS 1"\nNAME="Secret"\n')
    with pytest.raises(FileFormatError, match=r"os-release: is not a delimited table") as e:
        echem.read(p)
    assert "Secret" not in str(e.value).replace(str(p), "")
    p = tmp_path / "ragged.csv"
    p.write_text("root:x:0:0\n" * 5 + "1,2,3,4\n")
    with pytest.raises(FileFormatError, match=r"ragged\.csv: cannot parse the table \(separator "
                                              r"','\): line 6 of the file has 4 fields, the header 1") as e:
        echem.read(p)
    msg = str(e.value).replace(str(p), "")
    assert "tokenizing" not in msg and "root" not in msg
