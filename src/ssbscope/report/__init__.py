"""The self-contained HTML report of an experiment store.

Each area contributes a section: ``ssbscope.report.<area>.section(store) -> Section | None``
(``None`` when the store holds nothing of that area).  Figures are matplotlib figures
embedded as base64 PNG (:func:`figure`), tables as HTML (:func:`table`), so the report opens
offline with no external file, script or font.

The HTML is written by jinja2 templates shipped with the package (``templates/*.html.j2``,
autoescaped, undefined names an error): ``macros.html.j2`` holds the shared fragments (figure
with caption, table, accuracy table, paragraph); each area's ``templates/<area>.html.j2`` has a
``section`` macro that :func:`render_section` calls with the numbers, texts and fragments the
area's Python computed.  Text from the user's files (labels, file names, YAML strings) is passed
as plain str and escaped by the template; fragments are :class:`markupsafe.Markup`.

Examples
--------
>>> from ssbscope.report import Section
>>> Section("Electrochemistry", "<p>hello</p>").title
'Electrochemistry'
"""

from __future__ import annotations

import base64
import functools
import html
import io
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Section", "figure_html", "table_html", "build_report", "load_dataset", "SECTION_MODULES", "esc",
           "truth", "figure", "table", "Figure", "Table", "macro", "render_section", "safe"]

log = logging.getLogger(__name__)

def __getattr__(name):
    if name == "SECTION_MODULES":  # report modules of the registered areas, in report order
        from ssbscope.areas import registry

        return tuple(a.report for a in registry() if a.report)
    raise AttributeError(name)


esc = html.escape


@dataclass(frozen=True)
class Section:
    """One report section.

    Parameters
    ----------
    title : str
        Heading.
    html : str
        Body (HTML fragment; figures embedded with :func:`figure_html`).
    summary : tuple of (str, str), optional
        Key numbers for the report's summary table, ``(label, value with unit)``.
    """

    title: str
    html: str
    summary: tuple = ()


def load_dataset(store, name: str):
    """The dataset ``name`` of ``store`` loaded into memory, or None if the store lacks it."""
    if name not in store:  # Store.__contains__: one zarr.json, not a walk of the store
        return None
    return store.read(name).load()


def truth(store, *keys):
    """The twin's ground truth at ``keys`` (``truth(store, "echem", "logs")``), or None.

    The truth is the ``truth.json`` the twin wrote beside the experiment file, kept in the
    store's attributes by :func:`ssbscope.workflow.run_experiment` for the report alone (no
    analysis stage reads it); None for a user's own data.
    """
    node = store.attrs.get("truth")
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


_ENTITIES = (("&#39;", "&#x27;"), ("&#34;", "&quot;"))


@functools.lru_cache(maxsize=1)
def _env():
    """The jinja2 environment of the report's templates (``ssbscope/report/templates/*.j2``,
    package data): autoescaped, undefined names an error."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("ssbscope.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["head"] = _head
    return env


def _entities(text: str) -> str:
    """markupsafe writes ``&#39;``/``&#34;``, :func:`html.escape` ``&#x27;``/``&quot;``: the same
    characters; one spelling in the report whichever escaped them."""
    for a, b in _ENTITIES:
        text = text.replace(a, b)
    return text


def macro(name: str, *args, template: str = "macros.html.j2", **kwargs):
    """Call the macro ``name`` of ``templates/<template>`` (autoescaped) from Python.

    Returns
    -------
    markupsafe.Markup
        The HTML (a str, marked safe: a template inserts it as is).
    """
    import markupsafe

    mod = _env().get_template(template).module
    return markupsafe.Markup(_entities(str(getattr(mod, name)(*args, **kwargs))))


def render_section(template: str, **context) -> str:
    """The body of a report section: the ``section`` macro of ``templates/<template>`` called
    with ``context`` (plain text is escaped; figures, tables and other fragments built by
    :func:`figure`, :func:`table`, :func:`macro` or :func:`safe` are inserted as is)."""
    return str(macro("section", template=template, **context))


def safe(fragment):
    """An HTML fragment built by ssbscope (not user text), to be inserted as is by a template."""
    import markupsafe

    return markupsafe.Markup(fragment or "")


@dataclass(frozen=True)
class Figure:
    """A rasterised figure for the ``figure`` macro: ``src`` (data: URI of the PNG) and its
    plain-text ``caption`` (escaped by the macro)."""

    src: str
    caption: str = ""


def figure(fig, caption: str = "", *, dpi: int = 110, close: bool = True):
    """A matplotlib figure as a base64 PNG ``<figure>`` (the ``figure`` macro), marked safe.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    caption : str
        Plain-text caption (escaped).
    dpi : int
        Resolution of the PNG.
    close : bool
        Close the figure afterwards (frees memory).

    Returns
    -------
    markupsafe.Markup
    """
    import matplotlib.pyplot as plt

    from ssbscope.report import layout

    if layout.is_recording():  # the report tests: check the layout before rasterising
        layout.RECORD.append((caption, layout.text_overlaps(fig)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight",
                metadata={"Software": None})  # no timestamps/version: same input, same bytes
    if close:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return macro("figure", Figure(f"data:image/png;base64,{data}", caption))


def figure_html(fig, caption: str = "", *, dpi: int = 110, close: bool = True) -> str:
    """:func:`figure` as a plain ``str`` (for callers that concatenate HTML)."""
    return str(figure(fig, caption, dpi=dpi, close=close))


def _head(c):
    """A header cell's text, escaped; a long one may break after ``_`` and ``/``."""
    import markupsafe

    s = esc(str(c))
    return markupsafe.Markup(s if len(s) <= 8 else s.replace("_", "_<wbr>").replace("/", "/<wbr>"))


@dataclass(frozen=True)
class Table:
    """A table ready for the ``table`` macro: header texts, rows of (row header or None,
    cells as (text, css class)); all plain text, escaped by the template."""

    head: tuple
    rows: tuple
    caption: str = ""
    transposed: bool = False


def table(df, *, caption: str = "", float_format: str = "{:.4g}", index: bool = False,
          max_columns: int = 10):
    """A pandas DataFrame as an HTML table (the ``table`` macro on a :class:`Table`), marked
    safe; see :func:`table_html`."""
    import numpy as np

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "—"
            out = float_format.format(v)
            if "e+0" in out and abs(v) < 1e7:  # 13070, not 1.307e+04 (4 significant digits kept)
                out = f"{float(out):.0f}"
            return out
        return str(v)

    cols = list(df.columns)
    if not index and len(cols) > max_columns and len(df) < len(cols) and len(df):
        key = cols[0]
        head = (str(key),) + tuple(fmt(v) for v in df[key])
        rows = tuple((str(c), tuple((fmt(v), "") for v in df[c])) for c in cols[1:])
        return macro("table", Table(head, rows, caption, transposed=True))
    head = tuple(str(c) for c in ([df.index.name or ""] if index else []) + cols)
    # a column holding prose (sources, notes) reads left to right, all of its cells alike
    prose = {c for c in cols if any(isinstance(v, str) and len(v) > 24 for v in df[c])}
    rows = []
    for idx, row in df.iterrows():
        cells = [(str(idx), "")] if index else []
        cells += [(fmt(row[c]), "text" if c in prose else "") for c in cols]
        rows.append((None, tuple(cells)))
    return macro("table", Table(head, tuple(rows), caption))


def table_html(df, *, caption: str = "", float_format: str = "{:.4g}", index: bool = False,
               max_columns: int = 10) -> str:
    """A pandas DataFrame as an HTML table (values escaped, floats formatted).

    A table with more than ``max_columns`` columns and fewer rows than columns is shown
    transposed (one row per column, headed by the first column's values), so that it fits the
    page width instead of scrolling its headers out of view.
    """
    return str(table(df, caption=caption, float_format=float_format, index=index,
                     max_columns=max_columns))


_TYPO = (  # (pattern, replacement) on the text of section HTML: one unit typography
    (re.compile(r"(\d)\s?um3\b"), "\\1 µm³"), (re.compile(r"(\d)\s?um2\b"), "\\1 µm²"),
    (re.compile(r"(\d)\s?um\b"), "\\1 µm"),
    (re.compile(r"\bOhm cm2\b"), "Ω cm²"), (re.compile(r"(\d)\s?Ohm\b"), "\\1 Ω"),
    (re.compile(r"\bmAh cm-2\b"), "mAh cm⁻²"), (re.compile(r"(?<![\w/])mA/cm2\b"), "mA cm⁻²"),
    (re.compile(r" -> "), " → "), (re.compile(r"\bMPa m\^0\.5\b"), "MPa √m"),
)
#: a table cell (or any text between two tags) that is a unit on its own: ``<td>um</td>``
_UNIT_CELL = {"um": "µm", "um2": "µm²", "um3": "µm³", "m3": "m³", "m3/mol": "m³/mol",
              "Ohm cm2": "Ω cm²", "mA/cm2": "mA cm⁻²", "mAh/cm2": "mAh cm⁻²", "S/cm": "S cm⁻¹",
              "cm2/s": "cm² s⁻¹", "1/s": "s⁻¹"}


def typography(fragment: str) -> str:
    """``fragment`` (HTML) with the report's unit typography in its text: ``10 um`` -> ``10 µm``,
    ``Ohm cm2`` -> ``Ω cm²``, ``mA/cm2`` -> ``mA cm⁻²``, `` -> `` -> `` → ``; tags, ``<code>``
    and the user's own labels in other spellings (``plated 3.0 mAh/cm2``) are left as written.

    A text that is a unit on its own (a table's unit cell) is typeset too.

    >>> typography("<p>a 2 um ridge, R_ct = 10 Ohm cm2, 1 -> 2</p><code>5 um</code>")
    '<p>a 2 µm ridge, R_ct = 10 Ω cm², 1 → 2</p><code>5 um</code>'
    >>> typography("<td>um</td><td>m3/mol</td><td>0.25 MPa m^0.5</td><td>plated 3.0 mAh/cm2</td>")
    '<td>µm</td><td>m³/mol</td><td>0.25 MPa √m</td><td>plated 3.0 mAh/cm2</td>'
    """
    out, code = [], 0
    for part in re.split(r"(<[^>]+>)", fragment):
        if part.startswith("<"):
            m = re.match(r"<(/?)\s*([A-Za-z0-9]+)", part)
            if m and m.group(2).lower() == "code":
                code += -1 if m.group(1) else 1
            out.append(part)
        elif code > 0 or not part:
            out.append(part)
        elif part.strip() in _UNIT_CELL:
            out.append(part.replace(part.strip(), _UNIT_CELL[part.strip()]))
        else:
            for pat, rep in _TYPO:
                part = pat.sub(rep, part)
            out.append(part)
    return "".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
color:#1d2330;background:#f6f7f9;line-height:1.45}
header{background:#1d2b45;color:#fff;padding:18px 32px}header h1{margin:0;font-size:1.6em}
header p{margin:4px 0 0;color:#c9d3e6}
nav{background:#fff;border-bottom:1px solid #dde2ea;padding:8px 32px;position:sticky;top:0}
nav a{margin-right:18px;color:#1d4e89;text-decoration:none;font-weight:600;white-space:nowrap;
display:inline-block}
main{max-width:1200px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:8px 24px 20px;margin:18px 0}
h2{border-bottom:2px solid #1d4e89;padding-bottom:4px}h3{color:#1d4e89}
figure{margin:12px 0;display:inline-block;max-width:100%}img.fig{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555;max-width:900px}
table{border-collapse:collapse;margin:10px 0;font-size:.92em;display:block;max-width:100%;overflow-x:auto}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #d5dae2;padding:4px 10px;text-align:right}th{background:#eef1f6;vertical-align:bottom}
table.transposed tbody th{text-align:left;font-weight:600}
table.transposed th,table.transposed td{overflow-wrap:anywhere}
td:first-child,th:first-child,td.text{text-align:left}#summary td,#summary th{text-align:left}
.note{color:#666;font-size:.9em}.warn{color:#9a3b00}
footer{color:#777;font-size:.85em;padding:0 32px 24px;max-width:1200px;margin:0 auto}
@media (max-width:1000px){main{padding:8px 10px 32px}section{padding:6px 10px 14px}
header,nav{padding-left:12px;padding-right:12px}table{font-size:.8em}th,td{padding:3px 5px}
th{overflow-wrap:break-word}}
"""


def _sections(store, quiet: bool = True) -> list[Section]:
    """The report's sections, one per area with results, then the accuracy table; without
    ``quiet``, a plain ``report: k/N`` line at most every 10 s when stderr is no terminal (a
    bar on one): the demo's report is a single step of ~2 minutes."""
    from ssbscope.areas import registry
    from ssbscope.progress import iterate
    from ssbscope.report import accuracy  # the twin's truth beside every measured quantity

    builders = [m.section for m in (area.module("report") for area in registry()) if m is not None]
    builders.append(accuracy.section)
    out = []
    for build in iterate(builders, "report", total=len(builders), quiet=quiet):
        sec = build(store)
        if sec is not None:
            out.append(sec)
    return out


def _page_template():
    """The jinja2 template of the report page (``templates/page.html.j2``; autoescaped,
    section HTML is inserted as is).  Its own environment: the page keeps its newlines as
    written (no block trimming), unlike the section templates of :func:`_env`."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("ssbscope.report", "templates"),
                             autoescape=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("page.html.j2")


def build_report(store, out_path=None, *, title: str | None = None, quiet: bool = True) -> Path:
    """Write the self-contained ``report.html`` of a store.

    Parameters
    ----------
    store : ssbscope.store.Store or path
    out_path : path, optional
        Default: ``report.html`` beside the store directory.
    title : str, optional
        Page title (default: the experiment's name).
    quiet : bool
        No progress over the sections (default; ``ssbscope run``/``report`` pass their own).

    Returns
    -------
    Path
        The report written (atomically).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from ssbscope import __version__
    from ssbscope.store import Store

    if not isinstance(store, Store):
        store = Store.open(store)
    out = Path(out_path) if out_path is not None else store.path.parent / "report.html"
    sections = _sections(store, quiet=quiet)
    meta = store.attrs
    exp = meta.get("experiment")
    name = title or (exp.get("name") if isinstance(exp, dict) else None) or meta.get("name") or "ssbscope experiment"
    from ssbscope.papers import PAPERS, cite, cited

    summary_rows = [(sec.title, k, cite(v)) for sec in sections for k, v in sec.summary]
    bodies = [typography(cite(s.html)) for s in sections]
    used = cited(" ".join(bodies + [str(v) for _, _, v in summary_rows]))
    refs = [PAPERS[k] for k in used]
    doc = _page_template().render(
        name=name, version=__version__, store=store.path.name, stamp=meta.get("created_utc", ""),
        css=_CSS, sections=list(zip(range(len(sections)), [s.title for s in sections], bodies)),
        summary=summary_rows, references=refs, datasets=", ".join(store.names()))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(doc, encoding="utf-8")
    os.replace(tmp, out)
    log.info("report written to %s (%d sections)", out, len(sections))
    return out
