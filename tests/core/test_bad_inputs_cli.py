"""The bad-input catalogue through the command line (issue 14): every refused input gives
exit code 2 and exactly one line on stderr, no traceback, no quote of a file's content other
than the input's own header line; special files (FIFO, /dev/zero, a directory) are refused
before any read, so `run` and `validate` never hang.

The catalogue is generated here (``CASES``: name -> bytes, or a special kind) and each item is
fed to ``ssbscope run`` (as the echem input of an experiment), ``ssbscope echem`` and, for the
YAML items, ``ssbscope validate``.  ``SECRET`` marks content that must never be echoed.
"""

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from ssbscope.cli import main

SECRET = "SECRET-CONTENT-7f3a"


def _csv(rows, header="time_s,voltage_V,current_A"):
    return (header + "\n" + "\n".join(",".join(str(x) for x in r) for r in rows) + "\n").encode()


_OK_ROWS = [(60.0 * k, f"{3.5 + 0.001 * k:.4f}", "0.001000") for k in range(40)]

#: echem inputs that must be refused (bytes, or a special kind)
CASES = {
    "empty.csv": b"",
    "garbage.csv": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)) + SECRET.encode(),
    "one_line_maccor.txt": f"Today's Date 01/02/2020  Date of Test: 01/01/2020  {SECRET}\n".encode(),
    "only_header.csv": b"time_s,voltage_V,current_A\n",
    "non_utf8.csv": b"\xff\xfe\x00t\x00i\x00m\x00e\n\x93\x94\xff" + SECRET.encode() + b"\n",
    "huge_current.csv": _csv([(0.0, "3.5000", "0.001"), (60.0, "3.5010", "1e308"), (120.0, "3.5020", "0.001")]),
    "absurd_voltage.csv": _csv([(0.0, "3.5000", "0.001"), (60.0, "3500.0", "0.001"), (120.0, "3.5020", "0.001")]),
    "nan_voltage.csv": _csv([(60.0 * k, "nan", "0.001") for k in range(5)]),
    "inf_time.csv": _csv([(0.0, "3.5", "0.001"), ("inf", "3.6", "0.001")]),
    "text_in_numbers.csv": _csv([(0.0, "3.5", "0.001"), (60.0, SECRET, "0.001")]),
    "no_columns.csv": f"a,b,c\n1,2,{SECRET}\n".encode(),
    "bad_gamry.DTA": f"{SECRET}\nTAG\tCHRONOP\n".encode(),
    "bad_mpr.mpr": SECRET.encode() * 10,
    "cut_gamry.DTA": b"EXPLAIN\nTAG\tCHRONOP\nCURVE\tTABLE\t3\n\tPt\tT\tVf\tIm\n\t#\ts\tV\tA\n\t0\t0\t3.5\t",
    "backwards_time.csv": _csv([(60.0, "3.5", "0.001"), (0.0, "3.6", "0.001")]),
    "fifo": "fifo",
    "directory": "dir",
    "/dev/zero": "/dev/zero",
    "missing.csv": "missing",
}


def _make(tmp_path, name, spec) -> Path:
    if spec == "/dev/zero":
        return Path("/dev/zero")
    p = tmp_path / name
    if spec == "fifo":
        os.mkfifo(p)
    elif spec == "dir":
        p.mkdir()
    elif spec == "missing":
        pass
    else:
        p.write_bytes(spec)
    return p


def _one_error_line(capsys, *, secret=True):
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("ssbscope: error: ") and "Traceback" not in cap.err + cap.out
    if secret:
        assert SECRET not in cap.err + cap.out
    return lines[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_echem_input_through_run_and_echem(tmp_path, capsys, name):
    p = _make(tmp_path, name, CASES[name])
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: bad\ninputs:\n  echem:\n    - {{path: '{p}', label: x}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert str(p) in line or p.name in line or "does not exist" in line
    assert main(["echem", str(p)]) == 2
    _one_error_line(capsys)


def test_validate_refuses_special_and_missing_inputs_without_reading(tmp_path, capsys):
    fifo = _make(tmp_path, "fifo", "fifo")
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: bad\ninputs:\n  echem:\n    - {{path: '{fifo}'}}\n    - {{path: /dev/zero}}\n"
                 f"    - {{path: '{tmp_path / 'missing.csv'}'}}\n    - {{path: '{tmp_path}'}}\n")
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert "inputs.echem[0].path" in out and "FIFO" in out
    assert "inputs.echem[1].path" in out and "inputs.echem[2].path" in out and "does not exist" in out
    assert "inputs.echem[3].path" in out and "is a folder; an echem input is one file" in out


YAMLS = {
    "syntax": b"name: [unclosed\n",
    "unknown_field": b"name: x\nbogus: 1\n",
    "tiny_mass": b"name: x\ncell:\n  area_cm2: 1.0\n  active_mass_mg: 1.0e-308\n",
    "negative_area": b"name: x\ncell:\n  area_cm2: -1\n",
    "inf_area": b"name: x\ncell:\n  area_cm2: .inf\n",
    "non_utf8": b"name: \xff\xfe\x93\n",
    "binary": bytes(np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8)),
    "not_a_mapping": b"- a\n- b\n",
    "fifo": "fifo",
    "directory": "dir",
    "/dev/zero": "/dev/zero",
    "missing": "missing",
}


@pytest.mark.parametrize("name", sorted(YAMLS))
def test_bad_experiment_file(tmp_path, capsys, name):
    p = _make(tmp_path, name + ".yaml", YAMLS[name])
    assert main(["run", str(p), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    _one_error_line(capsys, secret=False)
    assert main(["validate", str(p)]) == 2
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out and cap.out.strip()


def test_cut_last_row_is_dropped_with_a_warning_in_the_store(tmp_path, capsys):
    """Reproduction: a CSV whose last row is cut mid-field (a cycler still writing it) kept the
    partial row with a wrong voltage.  Now it is dropped and the warning reaches the store."""
    from ssbscope.store import Store

    body = _csv(_OK_ROWS)
    for cut in (body[:-9], body[:-2]):   # cut inside the voltage / inside the last field
        p = tmp_path / "cut.csv"
        p.write_bytes(cut)
        y = tmp_path / "exp.yaml"
        y.write_text(f"name: cut\ninputs:\n  echem:\n    - {{path: '{p}', label: x}}\n")
        out = tmp_path / f"out{len(cut)}"
        assert main(["run", str(y), "--out", str(out), "--quiet"]) == 0
        ds = Store.open(out)["echem/timeseries"]
        assert ds.sizes["time_s"] == 39
        np.testing.assert_allclose(ds["voltage_V"].values, [3.5 + 0.001 * k for k in range(39)])
        assert "dropped the last data row" in ds.attrs["warnings"]
    # a complete last row without a final line break is kept
    p.write_bytes(body[:-1])
    from ssbscope import echem

    assert len(echem.read(p)) == 40 and not echem.read(p).attrs.get("warnings")


def test_internal_error_is_one_line(monkeypatch, capsys):
    import ssbscope.cli as cli

    def boom(args):
        raise AttributeError("'NoneType' object has no attribute 'x'\nsecond line")

    monkeypatch.setattr(cli, "_cmd_validate", boom)
    assert main(["validate", "x.yaml"]) == 2
    line = _one_error_line(capsys)
    assert "internal error AttributeError" in line and "--debug" in line


def test_absurd_current_density_on_the_declared_area_is_refused(tmp_path, capsys):
    """1 A on a 2 mm cell (0.0314 cm2) is 31,800 mA/cm2: a log in mA read as A, refused with
    the file, the value, the area and what to check; the same log on a 100 cm2 area passes."""
    p = tmp_path / "amps.csv"
    p.write_bytes(_csv([(60.0 * k, f"{3.5 + 0.001 * k:.4f}", "1.0") for k in range(40)]))
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: j\ncell:\n  diameter_mm: 2\ninputs:\n  echem:\n    - {{path: '{p}', label: x}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "amps.csv" in line and "mA/cm2" in line and "0.03142 cm2" in line and "unit" in line
    y.write_text(f"name: j\ncell:\n  area_cm2: 100\ninputs:\n  echem:\n    - {{path: '{p}', label: x}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "out2"), "--quiet"]) == 0


def test_compton_glob_is_one_exposure(tmp_path, capsys):
    """issue 14 item 4 (globs for every modality), XCS: a pattern matching one file reads that
    file; one matching several is refused by validate (one exposure per input), naming the
    field and the count."""
    from ssbscope.paths import single_match

    (tmp_path / "a1.ssbevt").write_bytes(b"SSBEVT" + bytes(16))
    assert single_match(tmp_path / "a*.ssbevt") == str(tmp_path / "a1.ssbevt")
    assert single_match(tmp_path / "b*.ssbevt") == str(tmp_path / "b*.ssbevt")
    (tmp_path / "a2.ssbevt").write_bytes(b"SSBEVT" + bytes(16))
    y = tmp_path / "x.yaml"
    y.write_text("name: x\ninputs:\n  compton:\n    - {path: 'a*.ssbevt'}\n")
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert "inputs.compton[0].path: 'a*.ssbevt' matches 2 files; an XCS input is one exposure" in out


# ------------------------------------------------------------------ fresh catalogue (issue 14)
# Damaged inputs of every modality from the outside-style acceptance pass
# (/work/notes/accept14.md); each of these was accepted silently, or refused with a message
# that did not name the file, before the fix that goes with it.

def _h5_bytes(build):
    import io

    import h5py

    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        build(f)
    return bio.getvalue()


def _tiff_bytes(arrays):
    import io

    import tifffile

    bio = io.BytesIO()
    with tifffile.TiffWriter(bio) as w:
        for a in arrays:
            w.write(a)
    return bio.getvalue()


def _fits_bytes(a):
    import io

    from astropy.io import fits

    bio = io.BytesIO()
    fits.PrimaryHDU(a).writeto(bio)
    return bio.getvalue()


def _dxchange_inf(f):
    p = np.full((6, 8, 10), 1000.0)
    p[3, 5, 2] = np.inf
    f.create_dataset("exchange/data", data=p)
    f.create_dataset("exchange/data_white", data=np.full((2, 8, 10), 2000.0))
    f.create_dataset("exchange/data_dark", data=np.zeros((2, 8, 10)))
    f.create_dataset("exchange/theta", data=np.linspace(0, 180, 6, endpoint=False))


def _tiff_bomb():
    """A 272-byte bilevel TIFF whose ImageLength tag says 200 million rows (found by the
    image fuzz targets): tifffile allocated 4.7 GB and ran for minutes before the size check."""
    b = bytearray(_tiff_bytes([np.zeros((16, 16), bool)]))
    off = int.from_bytes(b[4:8], "little")
    for i in range(int.from_bytes(b[off:off + 2], "little")):
        e = off + 2 + 12 * i
        if int.from_bytes(b[e:e + 2], "little") == 257:  # ImageLength, as a LONG
            b[e + 2:e + 4] = (4).to_bytes(2, "little")
            b[e + 8:e + 12] = (200_000_000).to_bytes(4, "little")
    return bytes(b)


def _tiff_loop():
    """Two pages, the second's next-directory offset pointing back at the first (fuzz find:
    tifffile walked the chain without end)."""
    import io

    import tifffile

    bio = io.BytesIO()
    with tifffile.TiffWriter(bio) as w:
        for _ in range(2):
            w.write(np.zeros((8, 8), np.uint8), photometric="minisblack")
    b = bytearray(bio.getvalue())
    first = int.from_bytes(b[4:8], "little")
    n = int.from_bytes(b[first:first + 2], "little")
    second = int.from_bytes(b[first + 2 + 12 * n:first + 6 + 12 * n], "little")
    m = int.from_bytes(b[second:second + 2], "little")
    b[second + 2 + 12 * m:second + 6 + 12 * m] = first.to_bytes(4, "little")
    return bytes(b)


#: name -> (modality, file name, bytes builder, extra YAML fields, words the error line must hold)
FRESH = {
    "csv_only_bom": ("echem", "a.csv", lambda: b"\xef\xbb\xbf\r\n", "", ["holds no data"]),
    "csv_first_row_too_long": ("echem", "a.csv", lambda: b"time_s,voltage_V,current_A\n0,3.5,0.001,9,9\n"
                               + b"".join(f"{60 * k},3.5,0.001\n".encode() for k in range(1, 30)), "",
                               ["line 2", "5 fields", "header 3"]),
    "h5_inf_projection": ("tomo", "a.h5", lambda: _h5_bytes(_dxchange_inf), ", format: dxchange, voxel_size_um: 1",
                          ["projections", "non-finite", "frame 3"]),
    "tiff_volume_cut": ("tomo", "a.tif", lambda: _tiff_bytes([np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)] * 4)[:3000],
                        ", kind: volume, voxel_size_um: 1", ["a.tif"]),
    "tiff_volume_pages_differ": ("tomo", "a.tif", lambda: _tiff_bytes([np.zeros((8, 8), np.uint8), np.zeros((5, 9), np.uint8),
                                                                      np.zeros((8, 8), np.uint8)]),
                                 ", kind: volume, voxel_size_um: 1", ["3 pages", "(5, 9)"]),
    "tiff_volume_rgb": ("tomo", "a.tif", lambda: _tiff_bytes([np.zeros((8, 8, 3), np.uint8)]),
                        ", kind: volume, voxel_size_um: 1", ["colour"]),
    "tiff_volume_size_bomb": ("tomo", "a.tif", _tiff_bomb, ", kind: volume, voxel_size_um: 1",
                              ["200000000 x 16", "more than the file's"]),
    "tiff_frame_size_bomb": ("neutron", "a.tif", _tiff_bomb, "", ["200000000 x 16", "more than the file's"]),
    "tiff_volume_directory_loop": ("tomo", "a.tif", _tiff_loop, ", kind: volume, voxel_size_um: 1", ["(a loop)"]),
    "tiff_frame_directory_loop": ("neutron", "a.tif", _tiff_loop, "", ["(a loop)"]),
    "fits_cut_in_data": ("neutron", "a.fits", lambda: _fits_bytes(np.ones((64, 64), np.float32))[:2880 + 4000], "",
                         ["cut short"]),
    "fits_header_only": ("neutron", "a.fits", lambda: _fits_bytes(np.ones((64, 64), np.float32))[:2880], "",
                         ["cut short"]),
    "fits_bad_bitpix": ("neutron", "a.fits", lambda: _fits_bytes(np.ones((16, 16), np.float32)).replace(
        b"BITPIX  =                  -32", b"BITPIX  =                   12"), "", ["BITPIX = 12"]),
    "fits_all_nan": ("neutron", "a.fits", lambda: _fits_bytes(np.full((16, 16), np.nan, np.float32)), "",
                     ["every pixel is NaN"]),
}


@pytest.mark.parametrize("name", sorted(FRESH))
def test_fresh_catalogue_through_run(tmp_path, capsys, name):
    modality, fname, build, extra, words = FRESH[name]
    (tmp_path / fname).write_bytes(build())
    label = "" if modality == "tomo" else ", label: x"
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: fresh\ncell: {{area_cm2: 1.0}}\ninputs:\n  {modality}:\n"
                 f"    - {{path: {fname}{label}{extra}}}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert str(tmp_path / fname) in line, line
    for w in words:
        assert w in line, line
    assert not list((tmp_path / "out" / "store.zarr" / ".ssbscope" / "tmp").glob("*")), "scratch left behind"


@pytest.mark.parametrize("text, words", [
    ("name: x\ncell:\n  area_cm2: 1\n  area_cm2: 2\n", ["line 4", "'area_cm2' given twice"]),
    ("name: x\ncell: {area_cm2: 1, area_cm2: 2}\n", ["'area_cm2' given twice"]),
    ("name: x\nseed: " + "[" * 3000 + "]" * 3000 + "\n", ["nests lists/mappings too deeply"]),
    ("name: x\ninputs:\n  echem:\n    - {path: a.csv, time_s: .nan}\n", ["inputs.echem[0].time_s", "finite"]),
])
def test_fresh_yaml_oddities(tmp_path, capsys, text, words):
    y = tmp_path / "exp.yaml"
    y.write_text(text)
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert all(w in out for w in words), out
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_error_line(capsys, secret=False)
    assert str(y) in line and "internal error" not in line


def test_merge_keys_may_override_without_being_duplicates(tmp_path):
    from ssbscope.config import load

    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ncell: &c {area_cm2: 1.0}\ncells:\n  b: {<<: *c, area_cm2: 2.0}\n")
    assert load(y).cells["b"].area_cm2 == 2.0


def test_symlink_loop_and_dangling_link_are_named_by_validate(tmp_path, capsys):
    os.symlink("loop.csv", tmp_path / "loop.csv")
    os.symlink("nowhere.csv", tmp_path / "dangling.csv")
    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ninputs:\n  echem:\n    - {path: loop.csv}\n    - {path: dangling.csv}\n")
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert "inputs.echem[0].path: 'loop.csv' is a symbolic link that loops" in out
    assert "inputs.echem[1].path: 'dangling.csv' is a symbolic link to a missing file ('nowhere.csv')" in out
    os.symlink("exp.yaml", tmp_path / "self.yaml")
    os.remove(tmp_path / "self.yaml")
    os.symlink("self.yaml", tmp_path / "self.yaml")
    assert main(["run", str(tmp_path / "self.yaml"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "symbolic link that loops" in _one_error_line(capsys, secret=False)


def test_utf16_export_with_a_byte_order_mark_as_last_line_drops_no_row(tmp_path):
    """PSTrace writes its CSV exports in UTF-16 with a byte-order mark at the start and a line
    holding only another one at the end: that line is not a cut data row."""
    from ssbscope import echem

    body = _csv(_OK_ROWS).decode() + "\ufeff"
    p = tmp_path / "ps.csv"
    p.write_bytes(b"\xff\xfe" + body.encode("utf-16-le"))
    df = echem.read(p)
    assert len(df) == 40 and not df.attrs.get("warnings")


def test_fifo_matched_by_an_input_glob_is_refused_naming_it(tmp_path, capsys):
    """Issue 14: a FIFO matched by a glob (``nf/*.fits``) was skipped without a word, while the
    same FIFO named directly is refused.  Now refused the same way (a special file among the
    series: exit 2, one line naming it), by ``validate``, ``run`` and the library expansion; a
    sub-folder the pattern matches is still skipped (it is no file of the series)."""
    from ssbscope.errors import FileFormatError
    from ssbscope.neutron import write_fits_series
    from ssbscope.paths import expand_inputs

    nf = tmp_path / "nf"
    write_fits_series(nf, np.ones((2, 4, 4), np.uint16), [0.0, 10.0])
    (nf / "sub.fits").mkdir()
    assert len(expand_inputs(str(nf / "*.fits"))) == 2  # the folder is skipped, no error
    os.mkfifo(nf / "pipe.fits")
    for spec in (str(nf / "*.fits"), nf):
        with pytest.raises(FileFormatError, match=r"pipe\.fits.*FIFO, device or special file"):
            expand_inputs(spec, exts=(".fits",))
    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ninputs:\n  neutron:\n    - {path: 'nf/*.fits', label: r}\n")
    assert main(["validate", str(y)]) == 2
    out = capsys.readouterr().out
    assert "inputs.neutron[0].path" in out and "'pipe.fits', a FIFO" in out, out
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "pipe.fits" in _one_error_line(capsys, secret=False)


def test_fifo_inside_a_folder_named_directly_is_refused_before_any_work(tmp_path, capsys):
    """Issue 14: a FIFO inside a folder named as the input (``path: nf``) or as a side file
    (``open_beam: ob``) passed ``validate`` and was refused only when the run's stage read the
    folder.  ``validate`` now names it (one problem line, exit 2), and ``run`` refuses it with
    one error line before it writes anything to ``--out``."""
    from ssbscope.neutron import write_fits_series

    nf, ob = tmp_path / "nf", tmp_path / "ob"
    write_fits_series(nf, np.ones((2, 4, 4), np.uint16), [0.0, 10.0])
    write_fits_series(ob, np.ones((1, 4, 4), np.uint16), [0.0])
    y = tmp_path / "exp.yaml"
    y.write_text("name: x\ninputs:\n  neutron:\n    - {path: nf, label: r, open_beam: ob}\n")
    assert main(["validate", str(y)]) == 0  # the same folders without a FIFO pass
    capsys.readouterr()
    os.mkfifo(nf / "pipe.fits")
    os.mkfifo(ob / "pipe_ob.fits")
    assert main(["validate", str(y)]) == 2
    out = [ln for ln in capsys.readouterr().out.splitlines() if "FIFO" in ln]
    assert len(out) == 2, out
    assert "inputs.neutron[0].path" in out[0] and "'nf' is a folder holding 'pipe.fits', a FIFO" in out[0]
    assert "inputs.neutron[0].open_beam" in out[1] and "'pipe_ob.fits', a FIFO" in out[1]
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = _one_error_line(capsys, secret=False)
    assert "'nf' is a folder holding 'pipe.fits'" in line, line
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize("value", ["1e300", "-3.0e9", "1.7e12"])
def test_input_time_outside_a_physical_range_is_refused_by_validate(tmp_path, capsys, value):
    """Issue 14: ``time_s: 1e300`` passed ``validate``; the run then only logged that the input
    lies outside the echem log.  Times must lie within ±1e9 s (about 32 years) of the test's
    start: validate exits 2 with one line naming the field and the range (1.7e12 is an epoch
    time in ms, a typical mix-up); a negative time within it (a scan before the test) passes."""
    y = tmp_path / "exp.yaml"
    (tmp_path / "a.csv").write_bytes(_csv(_OK_ROWS))
    y.write_text(f"name: x\ninputs:\n  echem:\n    - {{path: a.csv, time_s: {value}}}\n")
    assert main(["validate", str(y)]) == 2
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "time_s" in ln]
    assert len(lines) == 1 and "inputs.echem[0].time_s" in lines[0], lines
    assert "outside -1e+09 to 1e+09 s" in lines[0], lines
    y.write_text("name: x\ninputs:\n  echem:\n    - {path: a.csv, time_s: -3600}\n")
    assert main(["validate", str(y)]) == 0
