"""The self-contained HTML report: offline, figures embedded, renders in headless Chromium."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import xarray as xr

from ssbscope.report import build_report, figure_html, table_html
from ssbscope.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_figure_html_embeds_png():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    h = figure_html(fig, "a <caption>")
    assert h.startswith("<figure><img") and "data:image/png;base64," in h
    assert "a &lt;caption&gt;" in h


def test_table_html_escapes_and_formats():
    import pandas as pd

    h = table_html(pd.DataFrame({"a<b": [1.234567, np.nan], "c": ["x&y", "z"]}))
    assert "a&lt;b" in h and "1.235" in h and "—" in h and "x&amp;y" in h
    h = table_html(pd.DataFrame({"v": [13068.4, 2.5e8, 1.5e-5]}))
    assert "13070" in h and "2.5e+08" in h and "1.5e-05" in h  # no exponent below 10^7


def test_empty_store_report_is_self_contained(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    st.write("misc/x", xr.Dataset({"v_s": ("t", np.arange(3.0))}))
    out = build_report(st, tmp_path / "r.html")
    html = out.read_text()
    assert "<!DOCTYPE html>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


@pytest.fixture
def demo_dir(tiny_demo):
    return tiny_demo


def test_demo_writes_store_and_report(demo_dir):
    assert (demo_dir / "report.html").exists()
    st = Store.open(demo_dir / "store.zarr")
    html = (demo_dir / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html), "report must open offline"
    assert "&amp;quot;" not in html and "&amp;#x27;" not in html, "text escaped twice"
    n_sections = html.count("<section id=\"s")
    assert html.count("<img") >= n_sections
    assert len(st.names()) >= n_sections


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(demo_dir, tmp_path):
    html = (demo_dir / "report.html").read_text()
    probe = ("<script>window.addEventListener('load',()=>{const im=[...document.images];"
             "const ok=im.filter(i=>i.complete&&i.naturalWidth>0).length;"
             "document.body.setAttribute('data-probe',`images=${im.length} ok=${ok}`);});</script>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=5000"]
    r = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                       timeout=120)
    m = re.search(r'data-probe="images=(\d+) ok=(\d+)"', r.stdout)
    assert m, f"page did not load: {r.stderr[-2000:]}"
    n, ok = int(m.group(1)), int(m.group(2))
    assert n >= 1 and ok == n, f"{n - ok} of {n} figures failed to decode"
    console_errors = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln and ":ERROR:" in ln]
    assert console_errors == []
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1280,2000", f"--screenshot={shot}",
                    (demo_dir / "report.html").as_uri()], capture_output=True, timeout=120)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.std() > 10, "screenshot is blank"


def test_demo_predicts_the_current_on_each_measured_li_surface(demo_dir):
    """issue 17 §2 on the user's path: the anode-free series' CT height maps -> current
    distribution per scan, compared with the measured current-density maps between scans."""
    st = Store.open(demo_dir / "store.zarr")
    ds = st.read("interface/anode_free/surface_current").load()
    assert ds.attrs["interface"] == "Li|LPSCl"
    ar = ds["area_ratio"].values
    assert np.isnan(ar[0])  # pristine scan: no plated Li, no surface
    assert np.all((ar[1:] >= 1.0) & (ar[1:] < 1.5)), ar
    for k in (1, 2):
        j = ds["current_ma_cm2"].isel(time_s=k).values
        i_geo = float(ds["geometric_current_ma_cm2"].values[k])
        # per true area the mean local current is the geometric one over the area ratio
        assert np.nanmean(j) == pytest.approx(i_geo / ar[k], rel=0.05)
    last = ds.sizes["interval"] - 1
    assert np.isfinite(ds["correlation"].values[last])
    assert 0.0 <= ds["overlap"].values[last] <= 1.0
    assert ds["baseline_overlap"].values[last] == pytest.approx(0.1, abs=0.05)
    # the twin's predicted current varies by ~1 %, its measured maps carry >10 % pixel noise:
    # the comparison must say that it cannot discriminate, not report skill
    compared = np.isfinite(ds["correlation"].values)
    assert set(ds["verdict"].values[compared]) == {"not resolvable"}, ds["verdict"].values
    # well below the verdict's threshold of 1 (measured up to 0.51 at tiny, seed 0)
    assert np.all(ds["contrast_to_noise"].values[compared] < 0.75)
    html = (demo_dir / "report.html").read_text()
    assert "Predicted hot spots" in html and "mirror planes" in html
    assert "not resolvable: predicted contrast" in html


def test_paper_ids_become_citations():
    from ssbscope.papers import cite, cited

    assert cite("(cf. 000_ Fig. 2C)") == "(cf. Huang et al. 2024, Fig. 2C)"
    assert cite("Eqs. 2-3 of 002_3ee4edf529433f9c") == "Eqs. 2-3 of Cao et al. 2023"
    assert cite("frame_00000.fits, s000_a") == "frame_00000.fits, s000_a"  # not ids
    assert cited("see Zhang et al. 2024 and 001_") == ["001", "003"]


def test_report_cites_papers_by_authors_year_and_doi_never_by_id(demo_dir):
    html = (demo_dir / "report.html").read_text()
    text = re.sub(r'src="data:[^"]*"', "", html)
    assert not re.search(r"(?<![0-9A-Za-z])00[0-4]_", text), \
        re.search(r".{40}(?<![0-9A-Za-z])00[0-4]_.{40}", text).group(0)
    assert '<section id="references">' in html
    for doi in ("10.1016/j.xcrp.2024.101995", "10.1039/d3ee03322h", "10.1002/adfm.202307998"):
        assert f"doi:{doi}" in html


def test_every_units_attribute_of_the_tiny_demo_parses(demo_dir, tmp_path):
    """Issue 15 on the demo store: pint parses every units attribute, every variable has a
    long_name, variables are in name order, the CSV export keeps the units."""
    import pint

    ureg = pint.UnitRegistry()
    st = Store.open(demo_dir / "store.zarr")
    seen, bad = set(), []
    for name in st.names():
        for vname, var in st.read(name).variables.items():
            u = var.attrs.get("units")
            seen.add(u)
            try:
                ureg.parse_units(u)
            except Exception:
                bad.append((name, vname, u))
            assert "long_name" in var.attrs, (name, vname)
        ds = st.read(name)
        assert list(ds.data_vars) == sorted(ds.data_vars), name
    assert not bad, bad
    assert len(st.names()) > 20 and {"um", "s", "mA*h/cm^2"} <= seen
    # the same store exported: every table's header units are the store's, and parse
    from ssbscope.export import export_store, read_csv_table

    files = export_store(st, tmp_path / "csv", format="csv")
    assert len(files) >= len(st.names())
    for f in files:
        _df, units = read_csv_table(f)
        for u in units.values():
            ureg.parse_units(u)


def test_ome_zarr_reader_opens_every_image_of_the_tiny_demo_with_its_scale(demo_dir):
    """Issue 15 on the demo store: ome-zarr-py's Reader opens every declared image (CT volumes
    and labels, XCS EMF maps, neutron CT and radiograph movies) with physical space axes; the
    XCS maps' scale is their block size in the sheet, the radiograph movie's its pixel size
    and bin interval."""
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    st = Store.open(demo_dir / "store.zarr")
    images = st.ome_images()
    assert "compton/xcs/maps" in images
    movies = [n for n in images if n.startswith("neutron/input/")]
    assert movies
    for name in images:
        node = [n for n in Reader(parse_url(st.path / name))()
                if n.zarr.path.rstrip("/").endswith(name)][0]
        axes = node.metadata["axes"]
        space = [a for a in axes if a["type"] == "space"]
        assert len(space) in (2, 3) and all(a.get("unit") == "micrometer" for a in space), (name, axes)
        assert len(node.data) >= 2, name
        ds = st.read(name)
        assert np.asarray(node.data[0]).shape == ds[node.metadata["name"]].shape, name
    mp = st.read("compton/xcs/maps")
    ct = json.loads((st.path / "compton/xcs/maps/zarr.json").read_text())["attributes"]["ome"][
        "multiscales"][0]["datasets"][0]["coordinateTransformations"]
    b_um = mp.attrs["block_size_mm"] * 1000
    np.testing.assert_allclose(ct[0]["scale"][2:], [b_um, b_um])  # y/x stored increasing
    np.testing.assert_allclose(ct[1]["translation"][2:], [mp["y_mm"].values[0] * 1000,
                                                          mp["x_mm"].values[0] * 1000])
    nt = st.read(movies[0])
    ct = json.loads((st.path / movies[0] / "zarr.json").read_text())["attributes"]["ome"][
        "multiscales"][0]["datasets"][0]["coordinateTransformations"]
    px = nt.attrs["pixel_size_um"]
    dt = nt.attrs["bin_frames"] * float(np.diff(nt["time_s"].values)[0])
    np.testing.assert_allclose(ct[0]["scale"], [dt, px, px])
    np.testing.assert_allclose(ct[1]["translation"], [nt["time_s_bin"].values[0], px / 2, px / 2])


def test_text_overlaps_finds_overlapping_labels_and_a_legend_over_data():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssbscope.report.layout import text_overlaps

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(np.arange(10), np.arange(10), label="line")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("voltage (V)")
    assert text_overlaps(fig) == []
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label", transform=ax.transAxes)
    ax.plot(np.full(50, 8.0), np.linspace(8, 9, 50), "o", label="points under the legend")
    ax.text(0.97, 0.97, "note under the legend", transform=ax.transAxes, ha="right", va="top")
    ax.legend(loc="upper right")
    found = text_overlaps(fig)
    plt.close(fig)
    assert any(f.startswith("legend") and "'note under the legend'" in f for f in found), found
    assert any("'first label'" in f and "'second label'" in f for f in found), found
    assert any(f.startswith("legend of") for f in found), found
    # crowded tick labels overlap each other
    fig, ax = plt.subplots(figsize=(1.5, 1.5))
    ax.set_xticks(np.arange(20), [f"label {i}" for i in range(20)])
    assert any("'label 0'" in f and "'label 1'" in f for f in text_overlaps(fig))
    plt.close(fig)
    # a legend over a reference line (2 vertices, none under the box) hides the line
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["a", "b", "c"], [0.95, 0.94, 0.93])
    ax.axhline(1.0, color="k", ls=":", label="flat")
    ax.set_ylim(0.85, 1.02)
    ax.legend(loc="upper right")
    found = text_overlaps(fig)
    assert any(f.startswith("legend of") and "of its lines" in f for f in found), found
    ax.set_ylim(0.85, 1.08)  # headroom: the legend sits above the line
    assert text_overlaps(fig) == [], text_overlaps(fig)
    plt.close(fig)


def test_no_figure_of_the_demo_report_has_overlapping_text(demo_dir, tiny_demo_layout):
    """Every figure of the demo's report, checked while the demo built it (tests/conftest.py)."""
    rec = tiny_demo_layout
    assert len(rec) >= 5, "the demo report embeds figures"
    html = (demo_dir / "report.html").read_text()
    assert len(rec) == html.count('<figure><img class="fig"'), "a figure of the report was not checked"
    bad = [f"{cap[:70]!r}: {p}" for cap, probs in rec for p in probs]
    assert bad == [], f"{len(bad)} layout problems in {len(rec)} figures:\n" + "\n".join(bad)


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_report_html_has_no_overlapping_or_clipped_text_in_headless_chromium(demo_dir, tmp_path):
    """Headings, captions, table headers and nav links laid out by Chromium do not overlap;
    no table header is clipped and no table needs a sideways scroll at 1280 px nor at 900 px
    (a laptop window beside a notebook; narrow screens get smaller table type)."""
    import html as html_
    import json

    from ssbscope.report.layout import PROBE_JS as js

    page = tmp_path / "probe.html"
    page.write_text((demo_dir / "report.html").read_text().replace("</body>", f"<script>{js}</script></body>"))
    for width in (1280, 900):
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
                 f"--window-size={width},2000"]
        r = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                           text=True, timeout=120)
        m = re.search(r'<pre id="overlaps">(.*?)</pre>', r.stdout, re.S)
        assert m, f"the layout probe did not run at {width} px: {r.stderr[-2000:]}"
        res = json.loads(html_.unescape(m.group(1)))
        assert res["n"] >= 10, res  # headings, captions, headers were measured
        for kind in ("overlaps", "clipped", "wide"):
            assert res[kind] == [], f"{width} px, {kind}:\n" + "\n".join(res[kind])


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_chromium_layout_probe_finds_overlaps_and_clipped_headers(tmp_path):
    """Negative control of the probe: overlapping headings and a clipped header are reported."""
    import html as html_
    import json

    from ssbscope.report.layout import PROBE_JS

    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        "<h3 style='position:absolute;top:10px;left:10px'>first heading</h3>"
        "<h3 style='position:absolute;top:14px;left:30px'>second heading</h3>"
        "<table style='margin-top:120px;table-layout:fixed;width:60px'><thead><tr>"
        "<th style='width:60px;overflow:hidden;white-space:nowrap'>a_very_long_header_name</th>"
        "</tr></thead><tbody><tr><td>1</td></tr></tbody></table>"
        f"<script>{PROBE_JS}</script></body></html>")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000"]
    r = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                       timeout=120)
    m = re.search(r'<pre id="overlaps">(.*?)</pre>', r.stdout, re.S)
    assert m, f"the layout probe did not run: {r.stderr[-2000:]}"
    res = json.loads(html_.unescape(m.group(1)))
    assert any("first heading" in o and "second heading" in o for o in res["overlaps"]), res
    assert any("a_very_long_header_name" in c for c in res["clipped"]), res


def test_demo_report_has_the_accuracy_table_against_truth(demo_dir):
    """The accuracy table covers every area the twin knows the truth of, and its verdicts are
    what its tolerances say (issue: accuracy through the chain)."""
    from ssbscope.report.accuracy import accuracy_table
    from ssbscope.store import Store

    df = accuracy_table(Store.open(demo_dir / "store.zarr"))
    assert set(df["paper"]) >= {"Huang et al. 2024", "Sandoval et al. 2025", "Cao et al. 2023",
                                "Zhang et al. 2024"}
    q = set(df["quantity"])
    assert {"plated Li mean thickness", "pore + crack volume", "EIS R_ct",
            "Faraday residual of the plated Li thickness"} <= q
    assert any(s.startswith("EMF of the") for s in q)
    judged = df[df["within"].notna()]
    err_ok = [abs(e) <= t + 1e-12 for e, t in zip(judged["error"], judged["tolerance"])]
    assert list(judged["within"].astype(bool)) == err_ok
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert "Accuracy against the twin" in html and "within tolerance" in html


def test_docs_site_builds_offline_with_the_demo_gallery(demo_dir, tmp_path):
    """The documentation (mkdocs, issue 15): the gallery is built from the demo's report and
    `mkdocs build --strict` succeeds without network, in a copy (the repository is not touched)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("mkdocs")
    repo = Path(__file__).resolve().parents[2]
    work = tmp_path / "repo"
    shutil.copytree(repo / "docs", work / "docs", ignore=shutil.ignore_patterns("gallery"))
    shutil.copy(repo / "mkdocs.yml", work / "mkdocs.yml")
    shutil.copy(repo / "README.md", work / "README.md")
    r = subprocess.run([sys.executable, str(work / "docs" / "build_gallery.py"), str(demo_dir),
                        "--docs", str(work / "docs")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    n_fig = len(list((work / "docs" / "gallery").iterdir()))
    assert n_fig >= 10
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f",
                        str(work / "mkdocs.yml"), "-d", str(work / "site")],
                       capture_output=True, text=True, timeout=300, cwd=work)
    assert r.returncode == 0, r.stderr[-2000:]
    gallery = (work / "site" / "gallery" / "index.html").read_text(encoding="utf-8")
    assert gallery.count("<img") == n_fig
    assert "ssbscope" in (work / "site" / "index.html").read_text(encoding="utf-8")


def test_demo_xcs_is_unmixed_with_the_segmented_coin_ct(demo_dir):
    """Issue 12, XCS acceptance through the chain: the coin cell's XCS series (3 states x 4
    sheet heights, event files) is unmixed with the sheet fractions of its segmented CT series
    (raw projections -> reconstruction -> tomo/coin/labels, placed in the cell by its measured anode|SPE
    interface: tests/compton/test_ct_registration.py);
    every component EMF lies within 3 of its stated sigmas of the twin's truth (12 values;
    measured |z| <= 1.7 with 600 projections), and the CT's sheet fractions are the twin cell's
    true layer geometry within 0.04 (10 um of the 250 um sheet; measured <= 0.032: the
    segmentation puts the Li|SPE boundary ~2 voxels low and labels phase-contrast fringes at the
    SPE|cathode edge as cathode)."""
    import yaml

    from ssbscope.compton.series import sheet_layer_fractions

    st = Store.open(demo_dir / "store.zarr")
    assert "tomo/coin/labels" in st.names()
    em = st["compton/xcs/emf"].load()
    ct = st["compton/xcs/ct_fractions"].load()
    assert "XCS-CT correlation" in em.attrs["phase_fractions"]
    assert "compton/xcs/profiles" in st.names()
    truth = json.loads((demo_dir / "experiment" / "truth.json").read_text())["compton"]
    assert [str(s) for s in em["state"].values] == truth["states"]
    ref = np.array(truth["true_emf_resolution"])
    comps = [str(c) for c in em["component"].values]
    ref = ref[:, [truth["components"].index(c) for c in comps]]
    z = (em["emf"].values - ref) / em["emf_unc"].values
    assert np.all(np.abs(z) < 3.0), z
    # the fractions against the twin's layers at each state (truth: bulk anode and interphase)
    cfg = yaml.safe_load((demo_dir / "experiment" / "experiment.yaml").read_text())
    layers = cfg["cell"]["layers"]
    names = [ly["name"] for ly in layers]
    for si, s in enumerate(truth["states"]):
        t = [ly["thickness_um"] for ly in layers]
        t[names.index("anode")] = truth["anode_thickness_um"][si]
        t[names.index("interphase")] = truth["interphase_thickness_um"][si]
        for pi in range(ct.sizes["position"]):
            f = sheet_layer_fractions(t, float(ct["beam_height_um"].values[si, pi]), 250.0)
            want = f[[names.index(c) for c in comps]]
            np.testing.assert_allclose(ct["fraction"].values[si, pi], want, atol=0.04, err_msg=f"{s} {pi}")


def test_report_typography_of_units_in_text():
    """One spelling per unit in the report's text (µm, Ω cm², mA cm⁻², →); tags, code and
    embedded images untouched."""
    from ssbscope.report import typography

    h = typography('<p>height 438.93 um, R_ct = 10 Ohm cm2, 0.05 mAh cm-2, 1 mA/cm2, a -> b</p>'
                   '<code>5 um</code><img alt="5 um" src="data:image/png;base64,QUJDum">')
    assert "438.93 µm" in h and "10 Ω cm²" in h and "0.05 mAh cm⁻²" in h and "1 mA cm⁻²" in h
    assert "a → b" in h and "<code>5 um</code>" in h and 'alt="5 um"' in h and "QUJDum" in h
