"""CITATION.cff at the repository root: CFF 1.2.0 with the required keys, the version and
license of pyproject.toml, and the papers ssbscope implements with their DOIs."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_citation_cff_parses_with_the_required_keys():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    for key in ("cff-version", "message", "title", "authors", "version", "license", "references"):
        assert key in cff, key
    assert cff["cff-version"] == "1.2.0"
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert cff["version"] == proj["version"]
    assert cff["license"] == proj["license"]["text"]
    assert all("name" in a or "family-names" in a for a in cff["authors"])
    from ssbscope.papers import PAPERS

    dois = {r["doi"] for r in cff["references"]}
    assert dois == {p.doi for p in PAPERS.values()}
    # the titles as published, the same the report's reference list prints
    assert {r["title"] for r in cff["references"]} == {p.title for p in PAPERS.values()}
    for r in cff["references"]:
        assert r["type"] and r["title"] and r["authors"] and isinstance(r["year"], int)
        assert re.fullmatch(r"10\.\d{4,}/\S+", r["doi"])


def test_citation_cff_validates_against_the_cff_schema_if_available():
    """The official schema, when cffconvert's copy is installed (skipped otherwise)."""
    import pytest

    import importlib.util
    import json

    spec = importlib.util.find_spec("cffconvert")  # its schema file only: no import of its deps
    if spec is None or not spec.origin:
        pytest.skip("cffconvert not installed (its copy of the CFF 1.2.0 schema is used)")
    schema_file = next(Path(spec.origin).parent.rglob("1.2.0/schema.json"), None)
    if schema_file is None:
        pytest.skip("cffconvert without the CFF 1.2.0 schema")
    import jsonschema

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.validate(cff, json.loads(schema_file.read_text()))
