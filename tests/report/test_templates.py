"""The report's HTML comes from jinja2 templates shipped as package data (issue 15): text from
the user's files is escaped by the templates, an undefined name is an error, and the templates
are where the package data says they are."""

import fnmatch
import re
import tomllib
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np
import pytest
import xarray as xr

from ssbscope.report import build_report, macro, render_section
from ssbscope.store import Store

EVIL = "<script>alert('x')</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
REPORT = Path(__file__).resolve().parents[2] / "src" / "ssbscope" / "report"


def test_a_log_named_like_a_script_is_escaped_in_the_report(tmp_path):
    """A user's log label (the key of an echem input in the YAML) reaches the events table of
    the report as text, not as markup."""
    st = Store.create(tmp_path / "s.zarr")
    st.write("echem/events", xr.Dataset(
        {"kind": ("event", np.array(["hard"])), "log": ("event", np.array([EVIL])),
         "onset_s": ("event", np.array([7200.0]), {"units": "s"}),
         "ccd_ma_cm2": ("event", np.array([np.nan]), {"units": "mA/cm^2"})}))
    html = build_report(st, tmp_path / "r.html").read_text(encoding="utf-8")
    assert f'<td class="text">{EVIL_ESCAPED}</td>' in html  # a long text: a prose cell
    assert "<script" not in html  # the page itself has no script: every <script> was escaped
    assert "&amp;lt;" not in html  # escaped once, not twice
    assert "<td>onset 2.000 h</td>" in html


def test_section_templates_escape_text_and_keep_fragments():
    """Plain strings are escaped; figures and tables (marked safe by ssbscope.report.figure /
    table) are inserted as they are."""
    import pandas as pd

    from ssbscope.report import table

    tab = table(pd.DataFrame({"series": [EVIL]}), caption=EVIL)
    assert tab.count("<table>") == 1 and "<script" not in tab and tab.count(EVIL_ESCAPED) == 2
    part = macro("tortuosity", {"phase": "<b>Li</b>", "layer": "a&b", "series": EVIL,
                                "figure": "<p>plain text, not a fragment</p>", "table": tab},
                 template="transport.html.j2")
    assert "<h3>Tortuosity of &lt;b&gt;Li&lt;/b&gt; in a&amp;b (series " + EVIL_ESCAPED + ")</h3>" in part
    assert "&lt;p&gt;plain text" in part  # a plain str is text, whatever it holds
    assert part.count("<table>") == 1  # the table fragment as is
    body = render_section("transport.html.j2", parts=[part])
    assert body.count("<h3>") == 1 and "<script" not in body


def test_an_undefined_name_in_a_template_is_an_error():
    with pytest.raises(jinja2.UndefinedError):
        macro("tortuosity", {"series": "s"}, template="transport.html.j2")


def test_templates_are_package_data():
    """Every template a report module renders exists in the package (importlib.resources, as a
    non-editable install sees it) and matches pyproject's package-data globs."""
    used = set()
    for f in REPORT.glob("*.py"):
        used |= set(re.findall(r"""["']([a-z_]+\.html\.j2)["']""", f.read_text(encoding="utf-8")))
    assert {"macros.html.j2", "transport.html.j2", "accuracy.html.j2"} <= used
    shipped = {p.name for p in (resources.files("ssbscope.report") / "templates").iterdir()}
    assert used <= shipped, used - shipped
    cfg = tomllib.loads((REPORT.parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    globs = cfg["tool"]["setuptools"]["package-data"]["ssbscope"]
    for name in shipped:
        assert any(fnmatch.fnmatch(f"report/templates/{name}", g) for g in globs), name
