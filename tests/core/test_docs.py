"""The documentation site: plain mkdocs, home page from the README, a gallery page built from
a demo report's figures by docs/build_gallery.py; `mkdocs build --strict` offline in < 60 s."""

import base64
import io
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _png(seed):
    import matplotlib.image as mpimg

    buf = io.BytesIO()
    mpimg.imsave(buf, np.random.default_rng(seed).random((8, 8)), format="png")
    return base64.b64encode(buf.getvalue()).decode()


def _fake_demo(d: Path) -> None:
    d.mkdir()
    fig = [f'<figure><img class="fig" alt="{cap}" src="data:image/png;base64,{_png(i)}">'
           f"<figcaption>{cap}</figcaption></figure>"
           for i, cap in enumerate(["Voltage vs time [V]", "Li thickness map (um)"])]
    (d / "report.html").write_text(f"<html><body><h2>Electrochemistry</h2>{fig[0]}"
                                   f"<h2>X-ray tomography</h2>{fig[1]}</body></html>")


def test_gallery_and_strict_mkdocs_build_offline(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs not installed (pip install 'ssbscope[docs]')")
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copytree(ROOT / "docs", work / "docs", ignore=shutil.ignore_patterns("gallery"))
    for f in ("mkdocs.yml", "README.md"):
        shutil.copy(ROOT / f, work / f)
    demo = tmp_path / "demo"
    _fake_demo(demo)
    r = subprocess.run([sys.executable, str(work / "docs" / "build_gallery.py"), str(demo)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    gallery = (work / "docs" / "gallery.md").read_text()
    assert "## Electrochemistry" in gallery and "## X-ray tomography" in gallery
    assert "*Li thickness map (um)*" in gallery
    assert len(list((work / "docs" / "gallery").glob("*.png"))) == 2
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=work,
                       capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                            "NO_PROXY": "*", "http_proxy": "http://127.0.0.1:9",
                            "https_proxy": "http://127.0.0.1:9"})  # no network
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.perf_counter() - t0 < 60
    home = (work / "site" / "index.html").read_text()
    assert "Quick start" in home  # the README is the home page
    # the site reads offline too: no script or stylesheet from a CDN (mkdocs' highlight.js)
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', home), \
        re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://[^"]+', home)
    page = (work / "site" / "gallery" / "index.html").read_text()
    assert page.count("<img") == 2


def test_build_gallery_without_a_report_says_what_to_do(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "docs" / "build_gallery.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "ssbscope demo --out" in r.stderr
