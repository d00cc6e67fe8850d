"""The experiment file, discoverable: `ssbscope schema`, `ssbscope init`, "did you mean",
format sniffing of the inputs (validate, and run that validates first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ssbscope.cli import main
from ssbscope.schema import PLACEHOLDER_PATHS, sniff

jsonschema = pytest.importorskip("jsonschema")

@pytest.fixture(scope="module")
def schema():
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["schema"]) == 0
    return json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def twin_folder(tiny_demo):
    """The tiny demo's twin folder (raw files of every modality; the shared ``tiny_demo`` of
    tests/conftest.py, which the tests must not modify: they write in their own tmp_path)."""
    return tiny_demo / "experiment"


def test_schema_rejects_a_misspelled_key(schema):
    # (every example YAML validates against it: tests/core/test_examples.py)
    v = jsonschema.Draft202012Validator(schema)
    assert v.is_valid({"cell": {"layers": []}})
    assert not v.is_valid({"cell": {"layer": []}})
    assert not v.is_valid({"inputs": {"tomo": [{"path": "a.h5", "voxel_size": 1.0}]}})
    # the areas' sections come from the registry
    assert set(schema["$defs"]["Inputs"]["properties"]) == {"echem", "tomo", "compton", "neutron"}
    assert {"transport", "interface", "correlate"} <= set(schema["$defs"]["Analysis"]["properties"])


def _fill(template: str, twin: Path) -> str:
    """The template with each placeholder path replaced by the twin's first input of that
    modality (absolute: the filled file lives outside the twin folder)."""
    exp = yaml.safe_load((twin / "experiment.yaml").read_text(encoding="utf-8"))
    for m, placeholder in PLACEHOLDER_PATHS.items():
        if placeholder in template:
            template = template.replace(placeholder, (twin / exp["inputs"][m][0]["path"]).as_posix())
    return template


def test_init_template_passes_validate_once_paths_are_filled(twin_folder, tmp_path, capsys):
    out = tmp_path / "init.yaml"
    assert main(["init", "--out", str(out), "--quiet"]) == 0
    text = out.read_text(encoding="utf-8")
    # unfilled, the placeholders are reported as missing files
    assert main(["validate", str(out)]) == 2
    assert "PATH/TO/scan.h5" in capsys.readouterr().out
    out.write_text(_fill(text, twin_folder), encoding="utf-8")
    assert main(["validate", str(out)]) == 0, capsys.readouterr()
    # every field of every section is documented
    from ssbscope.areas import registry
    for area in registry():
        for which in ("input_model", "analysis_model"):
            m = area.model(which)
            for f in (m.model_fields if m is not None else ()):
                assert f"# {f}:" in text, (area.name, f)


def test_init_modalities_writes_only_their_sections(capsys):
    assert main(["init", "--modalities", "echem,tomo"]) == 0
    d = yaml.safe_load(capsys.readouterr().out)
    assert set(d["inputs"]) == {"echem", "tomo"} and set(d["analysis"]) == {"echem", "tomo"}
    assert d["inputs"]["tomo"] == [{"path": "PATH/TO/scan.h5"}]
    assert main(["init", "--modalities", "echem,tomoo"]) == 2
    assert "did you mean 'tomo'" in capsys.readouterr().err


def test_unknown_key_names_the_closest(tmp_path, capsys):
    f = tmp_path / "e.yaml"
    f.write_text("cell:\n  layer: []\nanalysis:\n  tomo: {mediann: true}\n"
                 "inputs:\n  echem:\n    - {path: x.csv, formt: csv}\n", encoding="utf-8")
    assert main(["validate", str(f)]) == 2
    out = capsys.readouterr().out
    assert "cell.layer: unknown key; did you mean 'layers'?" in out
    assert "analysis.tomo.mediann: unknown key; did you mean 'median'?" in out
    assert "inputs.echem[0].formt: unknown key; did you mean 'format'?" in out


def test_sniff_formats(twin_folder, tmp_path):
    fits = sorted((twin_folder / "neutron" / "sample").glob("*.fits"))[0]
    assert sniff(fits).modalities == ("neutron",)
    assert sniff(next((twin_folder / "scans").rglob("*.h5"))).what == "an HDF5 file"
    assert sniff(next((twin_folder / "echem").glob("*.mpt"))).modalities == ("echem",)
    assert sniff(next((twin_folder / "echem").glob("*.csv"))).modalities == ("echem",)
    assert sniff(next((twin_folder / "xcs").glob("*.ssbevt"))).modalities == ("compton",)
    tif = tmp_path / "a.tif"
    tif.write_bytes(b"II*\x00" + bytes(100))
    assert sniff(tif).modalities == ("tomo", "neutron")
    assert sniff(tmp_path) is None


def test_input_under_the_wrong_modality_is_refused_by_validate_and_run(twin_folder, tmp_path, capsys):
    fits = sorted((twin_folder / "neutron" / "sample").glob("*.fits"))[0]
    mpt = next((twin_folder / "echem").glob("*.mpt"))
    f = tmp_path / "wrong.yaml"
    f.write_text(yaml.safe_dump({"inputs": {"echem": [{"path": str(fits)}], "tomo": [{"path": str(mpt)}]}}),
                 encoding="utf-8")
    assert main(["validate", str(f)]) == 2
    out = capsys.readouterr().out
    assert (f"inputs.echem[0].path: {fits.name} is a FITS image (neutron); "
            "move it under inputs.neutron") in out
    assert f"inputs.tomo[0].path: {mpt.name} is a BioLogic .mpt text file (echem); move it under inputs.echem" in out
    assert main(["run", str(f), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is a FITS image (neutron); move it under inputs.neutron" in err
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_schema_and_template_cite_papers_by_authors_not_file_ids(capsys):
    import re

    assert main(["schema"]) == 0 and main(["init"]) == 0
    text = capsys.readouterr().out
    assert not re.findall(r"\b00\d_[0-9a-f]*", text)
    assert "Huang et al. 2024" in text and "Cao et al. 2023" in text


def test_readme_names_every_store_key_of_every_area():
    from ssbscope.areas import registry

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [k for a in registry() for k in a.store_keys if f"`{k}`" not in readme]
    assert not missing, f"README does not document {missing}"


RD = Path(__file__).resolve().parents[1] / "data" / "realdata"


@pytest.mark.parametrize("rel,what", [
    ("neware/newarenda_TestFile.nda", "a Neware .nda file"),
    ("neware/newarenda_TESTCELL0001-Test_Data_Collection_Ndc17.ndax", "a Neware .ndax archive"),
    ("arbin/cellpy_20160805_test001_45_cc_01.res", "an MS Access database (Arbin .res)"),
    ("palmsens/palmsens-sdk_cv_1scan.pssession", "a UTF-16 text export"),
])
def test_cycler_binaries_under_the_wrong_modality_are_named(tmp_path, capsys, rel, what):
    """Real cycler files (Neware .nda/.ndax, Arbin .res, PalmSens UTF-16 session) under
    inputs.neutron: validate names the file, what it is and where it belongs (exit 2); under
    inputs.echem, validate lists the input with its format and passes."""
    src = RD / rel
    assert sniff(src).what == what and sniff(src).modalities == ("echem",)
    f = tmp_path / "wrong.yaml"
    f.write_text(yaml.safe_dump({"inputs": {"neutron": [{"path": str(src)}]}}), encoding="utf-8")
    assert main(["validate", str(f)]) == 2
    out = capsys.readouterr().out
    assert f"inputs.neutron[0].path: {src.name} is {what} (echem); move it under inputs.echem" in out
    f.write_text(yaml.safe_dump({"inputs": {"echem": [{"path": str(src)}]}}), encoding="utf-8")
    assert main(["validate", str(f)]) == 0
    out = capsys.readouterr().out
    assert f"inputs.echem[0]: {src.name}: {what} (echem)" in out and out.rstrip().endswith("valid")
