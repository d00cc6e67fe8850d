"""The experiment file, discoverable: JSON Schema, a commented template, format sniffing.

- :func:`json_schema` is the JSON Schema of :class:`ssbscope.config.Experiment` (with the
  ``inputs``/``analysis`` sections of every registered area), for editors' YAML language
  servers (``ssbscope schema > ssbscope.schema.json`` and a first line
  ``# yaml-language-server: $schema=ssbscope.schema.json`` in the experiment file).
- :func:`template` writes a commented experiment file from the field descriptions
  (``ssbscope init``): every field is documented in a comment, the optional ones are commented
  out at their defaults, the required ones are filled with placeholders.
- :func:`sniff` tells a file's format from its magic bytes and extension, and
  :func:`modality_problems` reports inputs listed under a modality that cannot read them
  (``ssbscope validate``, hence ``ssbscope run``).
- :func:`did_you_mean` is the suggestion of the "unknown key" messages.
"""

from __future__ import annotations

import difflib
import glob
import json
import textwrap
import typing
from dataclasses import dataclass
from pathlib import Path

__all__ = ["json_schema", "template", "did_you_mean", "sniff", "Sniffed", "modality_problems",
           "PLACEHOLDER_PATHS"]

#: The ``path:`` placeholder of each modality's input in :func:`template`.
PLACEHOLDER_PATHS = {"echem": "PATH/TO/cycling.mpr", "tomo": "PATH/TO/scan.h5",
                     "compton": "PATH/TO/exposure.ssbevt", "neutron": "PATH/TO/frames/*.fits"}

_WIDTH = 96


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of the experiment YAML file."""
    from ssbscope.config import Experiment

    s = Experiment.model_json_schema()
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = "ssbscope experiment file"
    return s


def did_you_mean(key: str, names) -> str:
    """``"; did you mean 'layers'?"`` for the closest of ``names`` to ``key``, else ``""``."""
    close = difflib.get_close_matches(str(key), [str(n) for n in names], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# ----------------------------------------------------------------------------- template
def _model_of(annotation):
    """The pydantic model inside ``annotation`` (Optional[M], list[M], dict[str, M]) or None."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for a in typing.get_args(annotation):
        m = _model_of(a)
        if m is not None:
            return m
    return None


def _choices(annotation) -> list:
    out = []
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    for a in typing.get_args(annotation):
        out += _choices(a)
    return out


def _default(field):
    from pydantic_core import PydanticUndefined

    if field.default_factory is not None:
        try:
            return field.default_factory()
        except TypeError:
            return None
    return None if field.default is PydanticUndefined else field.default


def _flow(value) -> str:
    import yaml
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text[:-4].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def _comment(indent: str, text: str) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=f"{indent}# ",
                         subsequent_indent=f"{indent}#   ") or [f"{indent}#"]


def _doc(indent: str, name: str, field) -> list[str]:
    text = f"{name}: {field.description or ''}"
    ch = _choices(field.annotation)
    if ch and not any(str(c) in (field.description or "") for c in ch[1:]):
        text += f" (one of: {', '.join(map(str, ch))})"
    return _comment(indent, text)


def _fields(model, indent: str, filled: dict) -> list[str]:
    """Lines of ``model``'s fields: descriptions as comments, optional fields commented out at
    their defaults, required ones set from ``filled`` (or a placeholder)."""
    lines = []
    for name, f in model.model_fields.items():
        if name == "base_dir":
            continue
        lines += _doc(indent, name, f)
        if f.is_required():
            lines.append(f"{indent}{name}: {_flow(filled.get(name, f'FILL_IN_{name.upper()}'))}")
            continue
        lines.append(f"{indent}# {name}: {_flow(_default(f))}")
    return lines


def template(modalities=None) -> str:
    """A commented experiment file.

    Parameters
    ----------
    modalities : sequence of str, optional
        Areas (``echem``, ``tomo``, ``compton``, ``neutron``, ``transport``, ...) whose
        ``inputs``/``analysis`` sections are written; default: every registered area.

    Returns
    -------
    str
        YAML text: loads with :func:`ssbscope.config.load` once the ``PATH/TO/...`` input paths
        name real files.

    Raises
    ------
    ParameterError
        A name in ``modalities`` is not a registered area.
    """
    from ssbscope.areas import registry
    from ssbscope.config import Cell, Experiment, Layer
    from ssbscope.errors import ParameterError

    areas = {a.name: a for a in registry()}
    names = list(areas) if not modalities else [m.strip() for m in modalities if m.strip()]
    bad = [m for m in names if m not in areas]
    if bad:
        raise ParameterError("modalities", bad[0], f"not an area{did_you_mean(bad[0], areas)}",
                             f"give some of {', '.join(areas)}")
    top = Experiment.model_fields
    out = [
        "# ssbscope experiment file (written by `ssbscope init`).",
        "# Every key is documented in the comment above it; optional keys are commented out at",
        "# their defaults.  Replace the PATH/TO/... paths by your files (relative to this file),",
        "# then: ssbscope validate THIS_FILE && ssbscope run THIS_FILE",
        "# Editors with a YAML language server complete and check keys with the JSON Schema:",
        "#   ssbscope schema > ssbscope.schema.json",
        "# yaml-language-server: $schema=ssbscope.schema.json",
        "",
    ]
    out += _doc("", "name", top["name"]) + ["name: my experiment"]
    for k in ("description", "seed"):
        out += _doc("", k, top[k]) + [f"# {k}: {_flow(_default(top[k]))}"]
    out += ["", *_doc("", "cell", top["cell"]), "cell:"]
    for name, f in Cell.model_fields.items():
        if name == "layers":
            out += _doc("  ", name, f)
            out += _comment("  ", "each layer has:")
            for ln, lf in Layer.model_fields.items():
                text = f"{ln}{'' if lf.is_required() else ' (optional)'}: {lf.description}"
                out += textwrap.wrap(text, width=_WIDTH, initial_indent="  #   ",
                                     subsequent_indent="  #       ")
            out += ["  # layers:", "  #   - {name: cathode, material: NMC622, thickness_um: 65}",
                    "  #   - {name: electrolyte, material: Li6PS5Cl, thickness_um: 700}",
                    "  #   - {name: anode, material: Li, thickness_um: 100}"]
            continue
        out += _doc("  ", name, f) + [f"  # {name}: {_flow(_default(f))}"]
    out += ["", *_doc("", "cells", top["cells"]), "# cells: {}"]
    inputs = [m for m in names if areas[m].model("input_model") is not None]
    analysis = [m for m in names if areas[m].model("analysis_model") is not None]
    if inputs:
        out += ["", *_doc("", "inputs", top["inputs"]), "inputs:"]
        for m in inputs:
            a = areas[m]
            out += _comment("  ", f"{m}: {a.input_description or a.title}")
            out += [f"  {m}:"]
            body = _fields(a.model("input_model"), "      ",
                           {"path": PLACEHOLDER_PATHS.get(m, f"PATH/TO/{m}-file")})
            # the list item starts at the first active line (the required path)
            first = next(i for i, ln in enumerate(body) if not ln.lstrip().startswith("#"))
            body[first] = "    - " + body[first].lstrip()
            out += body
    if analysis:
        out += ["", *_doc("", "analysis", top["analysis"]), "analysis:"]
        for m in analysis:
            a = areas[m]
            out += _comment("  ", f"{m}: {a.analysis_description or a.title}")
            out += [f"  {m}:"] + _fields(a.model("analysis_model"), "    ", {})
    out += ["", *_doc("", "twin", top["twin"]), "# twin: null"]
    return _fix_empty_sections("\n".join(out).rstrip() + "\n")


def _fix_empty_sections(text: str) -> str:
    """``key:`` followed only by comments is null in YAML; write ``key: {}`` there."""
    lines = text.split("\n")
    out = []
    for i, ln in enumerate(lines):
        s = ln.rstrip()
        if s.endswith(":") and not s.lstrip().startswith("#") and not s.lstrip().startswith("- "):
            ind = len(s) - len(s.lstrip())
            nxt = next((x for x in lines[i + 1:] if x.strip() and not x.lstrip().startswith("#")), None)
            child = nxt is not None and (len(nxt) - len(nxt.lstrip()) > ind
                                         or nxt.lstrip().startswith("- "))
            if not child:
                ln = s + " {}  # nothing set: uncomment keys below (and remove the {})"
        out.append(ln)
    return "\n".join(out)


# ----------------------------------------------------------------------------- sniffing
@dataclass(frozen=True)
class Sniffed:
    """What a file is: a readable name of its format and the modalities that read it."""

    what: str
    modalities: tuple


_EXT = {".mpr": ("a BioLogic .mpr file", ("echem",)), ".mpt": ("a BioLogic .mpt text file", ("echem",)),
        ".dta": ("a Gamry .DTA file", ("echem",)), ".csv": ("a CSV table", ("echem",)),
        ".tsv": ("a TSV table", ("echem",)), ".txt": ("a text table", ("echem",)),
        ".fits": ("a FITS image", ("neutron",)), ".fit": ("a FITS image", ("neutron",)),
        ".fts": ("a FITS image", ("neutron",)), ".ssbevt": ("an ssbscope event file", ("compton",)),
        ".h5": ("an HDF5 file", ("tomo", "compton")), ".hdf5": ("an HDF5 file", ("tomo", "compton")),
        ".nxs": ("a NeXus/HDF5 file", ("tomo", "compton")),
        ".tif": ("a TIFF image", ("tomo", "neutron")), ".tiff": ("a TIFF image", ("tomo", "neutron")),
        ".npz": ("a NumPy .npz archive", ("compton",))}


def sniff(path) -> Sniffed | None:
    """The format of a file from its first bytes (and its extension where they say nothing).

    Recognised: HDF5 (``\\x89HDF``), TIFF (``II*\\0``/``MM\\0*``, BigTIFF), FITS (``SIMPLE  =``),
    BioLogic ``.mpr``/``.mpt``, Gamry ``EXPLAIN``, ssbscope event files (``SSBEVT``), NumPy
    ``.npz``, and text tables (CSV/TSV).  None when the format is not known (raw detector
    streams, folders, ...): no modality is then ruled out.
    """
    from ssbscope.compton.events import MAGIC
    from ssbscope.echem.io.biologic import MPR_MAGIC, MPT_MAGICS

    p = Path(path)
    if not p.is_file():
        return None
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return Sniffed("an HDF5 file", ("tomo", "compton"))
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return Sniffed("a TIFF image", ("tomo", "neutron"))
    if head.startswith(b"SIMPLE  ="):
        return Sniffed("a FITS image", ("neutron",))
    if head.startswith(MPR_MAGIC):
        return Sniffed("a BioLogic .mpr file", ("echem",))
    if head.startswith(MPT_MAGICS):
        return Sniffed("a BioLogic .mpt text file", ("echem",))
    if head.startswith(MAGIC):
        return Sniffed("an ssbscope event file", ("compton",))
    if head.startswith(b"NEWARE"):
        return Sniffed("a Neware .nda file", ("echem",))
    if head[4:19] in (b"Standard Jet DB", b"Standard ACE DB"):
        return Sniffed("an MS Access database (Arbin .res)", ("echem",))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and p.suffix.lower() in (
            ".csv", ".tsv", ".txt", ".pssession"):
        return Sniffed("a UTF-16 text export", ("echem",))
    if head.startswith(b"PK\x03\x04"):
        if p.suffix.lower() == ".npz":
            return Sniffed("a NumPy .npz archive", ("compton",))
        if p.suffix.lower() == ".ndax":
            return Sniffed("a Neware .ndax archive", ("echem",))
        if p.suffix.lower() in (".xlsx", ".xlsm"):
            return Sniffed("an Excel workbook (read with the optional extra 'excel')", ("echem",))
        return None  # another zip: the readers decide
    if head.startswith(b"\x93NUMPY"):
        return Sniffed("a NumPy .npy array", ("compton",))
    if head.lstrip().startswith(b"EXPLAIN"):
        return Sniffed("a Gamry .DTA file", ("echem",))
    if head and b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = head.decode("latin-1")
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text) / max(len(text), 1)
        if printable > 0.98:
            ext = p.suffix.lower()
            what = _EXT[ext][0] if ext in (".csv", ".tsv", ".txt", ".mpt", ".dta") else "a text table"
            return Sniffed(what, ("echem",))
    return None


def _first_file(exp, path: str) -> Path | None:
    r = exp.resolve(path)
    if any(ch in path for ch in "*?["):
        hits = sorted(glob.glob(str(r)))
        r = Path(hits[0]) if hits else None
    if r is not None and r.is_dir():
        files = sorted(q for q in r.iterdir() if q.is_file() and not q.name.startswith("."))
        r = files[0] if files else None
    return r if r is not None and r.is_file() else None


def _sniffed_inputs(exp):
    """``(area name, index, item, first file or None, sniff result or None)`` of every input."""
    from ssbscope.areas import registry

    for area in registry():
        if not area.inputs:
            continue
        for i, item in enumerate(getattr(exp.inputs, area.name, None) or []):
            f = _first_file(exp, item.path)
            yield area.name, i, item, f, (sniff(f) if f is not None else None)


def input_formats(exp) -> list[tuple[str, str]]:
    """``(location, description)`` of every input: its (first) file, the format found from its
    content, and the modalities that read it (``"format not recognised"`` when unknown)."""
    out = []
    for name, i, item, f, s in _sniffed_inputs(exp):
        desc = (f"{f.name if f is not None else item.path}: "
                + (f"{s.what} ({' or '.join(s.modalities)})" if s is not None
                   else "format not recognised from its first bytes; the reader decides"))
        out.append((f"inputs.{name}[{i}]", desc))
    return out


def modality_problems(exp) -> list[tuple[str, str]]:
    """``(location, message)`` for every input whose file a modality other than the one it is
    listed under reads (e.g. a FITS image under ``inputs.echem``)."""
    problems = []
    for name, i, _item, f, s in _sniffed_inputs(exp):
        if s is None or name in s.modalities:
            continue
        where = " or ".join(s.modalities)
        under = " or ".join(f"inputs.{m}" for m in s.modalities)
        problems.append((f"inputs.{name}[{i}].path",
                         f"{f.name} is {s.what} ({where}); move it under {under}"))
    return problems


def schema_text() -> str:
    """:func:`json_schema` as indented JSON text."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
