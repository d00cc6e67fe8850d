"""mkdocs hook: the home page is the repository's README.md (one source for both)."""

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def on_page_read_source(page, config, **kwargs):
    if page.file.src_uri == "index.md" and README.is_file():
        return README.read_text(encoding="utf-8")
    return None
