"""Build the documentation's gallery page from the report of ``ssbscope demo``.

Usage::

    ssbscope demo --out ssbscope-demo
    python docs/build_gallery.py ssbscope-demo [--docs docs]

Every figure of ``ssbscope-demo/report.html`` (embedded PNG or SVG) is written to
``docs/gallery/<nn>-<section>.<ext>`` and listed, under its report section and with its
caption, in ``docs/gallery.md`` (both overwritten; ``docs/gallery/`` is not versioned).
"""

from __future__ import annotations

import argparse
import base64
import html
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

_EXT = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg"}


class _Figures(HTMLParser):
    """Collects (section, mime, bytes, caption) of every <figure><img src="data:..."> in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.section = "Report"
        self.figures: list[dict] = []
        self._in_h2 = self._in_cap = False
        self._h2: list[str] = []
        self._cap: list[str] = []
        self._cur: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2":
            self._in_h2, self._h2 = True, []
        elif tag == "figure":
            self._cur = {"section": self.section, "img": None, "caption": ""}
        elif tag == "img" and self._cur is not None:
            m = re.match(r"data:([\w+/.-]+);base64,(.*)", a.get("src") or "", re.S)
            if m and m.group(1) in _EXT:
                self._cur["img"] = (m.group(1), base64.b64decode(m.group(2)))
                self._cur["caption"] = a.get("alt") or ""
        elif tag == "figcaption" and self._cur is not None:
            self._in_cap, self._cap = True, []

    def handle_endtag(self, tag):
        if tag == "h2" and self._in_h2:
            self._in_h2 = False
            self.section = " ".join("".join(self._h2).split()) or self.section
        elif tag == "figcaption" and self._in_cap:
            self._in_cap = False
            if self._cur is not None:
                self._cur["caption"] = " ".join("".join(self._cap).split())
        elif tag == "figure" and self._cur is not None:
            if self._cur["img"] is not None:
                self.figures.append(self._cur)
            self._cur = None

    def handle_data(self, data):
        if self._in_h2:
            self._h2.append(data)
        if self._in_cap:
            self._cap.append(data)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "figure"


def build_gallery(demo_dir, docs_dir) -> list[Path]:
    """Write the gallery page and its images; returns the image paths.

    Raises
    ------
    FileNotFoundError
        ``demo_dir`` has no report.html.
    ValueError
        The report holds no embedded figure.
    """
    demo_dir, docs_dir = Path(demo_dir), Path(docs_dir)
    report = demo_dir / "report.html"
    if not report.is_file():
        raise FileNotFoundError(f"{report}: no report; run 'ssbscope demo --out {demo_dir}' first")
    parser = _Figures()
    parser.feed(report.read_text(encoding="utf-8"))
    if not parser.figures:
        raise ValueError(f"{report}: no embedded figures found")
    img_dir = docs_dir / "gallery"
    shutil.rmtree(img_dir, ignore_errors=True)
    img_dir.mkdir(parents=True)
    lines = ["# Gallery", "",
             "The figures of the report of `ssbscope demo` (a digital-twin experiment folder run "
             "through the same path as real data: raw files -> `ssbscope run` -> store -> "
             "report), by report section. Rebuild with "
             "`python docs/build_gallery.py ssbscope-demo`.", ""]
    out, section = [], None
    for i, fig in enumerate(parser.figures, 1):
        if fig["section"] != section:
            section = fig["section"]
            lines += [f"## {section}", ""]
        mime, data = fig["img"]
        f = img_dir / f"{i:02d}-{_slug(section)}.{_EXT[mime]}"
        f.write_bytes(data)
        out.append(f)
        cap = fig["caption"] or f"Figure {i}"
        alt = html.escape(cap, quote=True).replace("[", "(").replace("]", ")")
        lines += [f"![{alt}](gallery/{f.name})", "", f"*{cap}*", ""]
    (docs_dir / "gallery.md").write_text("\n".join(lines), encoding="utf-8")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo_dir", help="folder written by 'ssbscope demo --out DIR' (holds report.html)")
    ap.add_argument("--docs", default=str(Path(__file__).resolve().parent),
                    help="the docs folder (default: this script's folder)")
    a = ap.parse_args(argv)
    try:
        files = build_gallery(a.demo_dir, a.docs)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{len(files)} figures -> {Path(a.docs) / 'gallery.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
