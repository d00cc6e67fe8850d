"""CITATION.cff at the repository root: CFF 1.2.0 with the required keys, the version and
license of pyproject.toml, and the papers ssbscope implements with their DOIs; validated
(jsonschema, offline) against the rules of the CFF 1.2.0 specification it uses, written out
below, and against the official schema when cffconvert's copy is installed."""

import copy
import re
import tomllib
from pathlib import Path

import pytest
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
    """The official schema, when cffconvert's copy is installed (skipped otherwise; the rules
    below are checked either way)."""
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


# The CFF 1.2.0 rules CITATION.cff relies on, as a JSON Schema written here from the
# specification (https://github.com/citation-file-format/citation-file-format, "Schema guide"),
# not a copy of the official schema (cffconvert ships that one; the test above uses it when
# installed): the top-level and reference keys the format has (a misspelt key is an error),
# the required ones, persons and entities with their keys, the reference types, DOIs, dates.
_DOI = r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-\.\(\)\[\]\\]+$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ADDR = {k: {"type": "string", "minLength": 1} for k in (
    "address", "city", "country", "email", "fax", "post-code", "region", "tel", "website",
    "alias", "affiliation", "orcid")}
_PERSON = {"type": "object", "additionalProperties": False, "minProperties": 1,
           "properties": {**_ADDR, **{k: {"type": "string", "minLength": 1} for k in (
               "family-names", "given-names", "name-particle", "name-suffix")}}}
_ENTITY = {"type": "object", "additionalProperties": False, "required": ["name"],
           "properties": {**{k: v for k, v in _ADDR.items() if k != "affiliation"},
                          "name": {"type": "string", "minLength": 1},
                          "date-end": {"type": "string", "pattern": _DATE},
                          "date-start": {"type": "string", "pattern": _DATE},
                          "location": {"type": "string", "minLength": 1}}}
_AUTHORS = {"type": "array", "minItems": 1, "items": {"anyOf": [_PERSON, _ENTITY]}}
_REF_TYPES = [
    "art", "article", "audiovisual", "bill", "blog", "book", "catalogue", "conference-paper",
    "conference", "data", "database", "dictionary", "edited-work", "encyclopedia",
    "film-broadcast", "generic", "government-document", "grant", "hearing", "historical-work",
    "legal-case", "legal-rule", "magazine-article", "manual", "map", "multimedia", "music",
    "newspaper-article", "pamphlet", "patent", "personal-communication", "proceedings", "quote",
    "report", "serial", "slides", "software-code", "software-container", "software-executable",
    "software-virtual-machine", "software", "sound-recording", "standard", "statute", "thesis",
    "unpublished", "video", "website"]
_INT_OR_STR = {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1}]}
_REFERENCE = {
    "type": "object", "additionalProperties": False, "required": ["type", "title", "authors"],
    "properties": {
        "type": {"enum": _REF_TYPES}, "title": {"type": "string", "minLength": 1},
        "authors": _AUTHORS, "doi": {"type": "string", "pattern": _DOI},
        "year": {"type": "integer"}, "month": {"type": "integer", "minimum": 1, "maximum": 12},
        "journal": {"type": "string", "minLength": 1}, "volume": {"type": "integer"},
        "issue": _INT_OR_STR, "start": _INT_OR_STR, "end": _INT_OR_STR,
        "pages": {"type": "integer"}, "url": {"type": "string", "pattern": "^https?://"},
        "abstract": {"type": "string"}, "publisher": _ENTITY, "editors": _AUTHORS,
        "keywords": {"type": "array", "items": {"type": "string"}},
        "date-published": {"type": "string", "pattern": _DATE},
        "notes": {"type": "string"}, "version": _INT_OR_STR}}
CFF_1_2_0_RULES = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "additionalProperties": False,
    "required": ["cff-version", "message", "title", "authors"],
    "properties": {
        "cff-version": {"const": "1.2.0"}, "message": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1}, "authors": _AUTHORS,
        "type": {"enum": ["software", "dataset"]}, "abstract": {"type": "string", "minLength": 1},
        "version": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]},
        "license": {"anyOf": [{"type": "string", "pattern": r"^[A-Za-z0-9.+-]+$"},
                              {"type": "array", "items": {"type": "string"}}]},
        "keywords": {"type": "array", "minItems": 1,
                     "items": {"type": "string", "minLength": 1}},
        "references": {"type": "array", "minItems": 1, "items": _REFERENCE},
        "preferred-citation": _REFERENCE, "doi": {"type": "string", "pattern": _DOI},
        "date-released": {"type": "string", "pattern": _DATE},
        "commit": {"type": "string"}, "contact": _AUTHORS, "identifiers": {"type": "array"},
        **{k: {"type": "string", "pattern": "^(https|http|ftp|sftp)://"} for k in (
            "license-url", "repository", "repository-artifact", "repository-code", "url")}}}


def _cff():
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_cff_follows_the_cff_1_2_0_rules():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(CFF_1_2_0_RULES)
    jsonschema.validate(_cff(), CFF_1_2_0_RULES, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("break_it", [
    lambda c: c.pop("title"),
    lambda c: c.__setitem__("licence", c.pop("license")),            # a misspelt key
    lambda c: c.__setitem__("cff-version", "1.1.0"),
    lambda c: c["authors"].append({"first-name": "A"}),               # neither person nor entity
    lambda c: c["references"][0].__setitem__("type", "paper"),        # not a reference type
    lambda c: c["references"][0].__setitem__("doi", "doi:10.1/x"),
    lambda c: c["references"][0].__setitem__("year", "2024"),
    lambda c: c["references"][0].pop("authors"),
], ids=["no-title", "licence", "version", "author-key", "ref-type", "doi", "year-str",
        "ref-authors"])
def test_the_cff_rules_reject_a_broken_citation_file(break_it):
    """The check can fail: each edit of the real file breaks a CFF 1.2.0 rule."""
    import jsonschema

    cff = copy.deepcopy(_cff())
    break_it(cff)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cff, CFF_1_2_0_RULES, cls=jsonschema.Draft202012Validator)
