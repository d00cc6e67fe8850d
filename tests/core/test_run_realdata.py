"""`ssbscope run` on the real instrument files of examples/realdata.yaml."""

from pathlib import Path

import numpy as np
import pytest

from ssbscope.cli import main
from ssbscope.store import Store
from ssbscope.testing import realdata_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "realdata.yaml"
REALDATA = realdata_dir()

pytestmark = pytest.mark.skipif(not REALDATA.exists(), reason=f"real data not found at {REALDATA}")


def test_run_on_real_files(tmp_path):
    assert main(["run", str(EXAMPLE), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    st = Store.open(tmp_path / "run" / "store.zarr")
    names = set(st.names())
    assert {"echem/timeseries", "echem/cycles", "echem/eis"} <= names
    assert not any(n.startswith("tomo/inputs/") for n in names)
    # no layers declared: scans reconstructed, no series measured
    assert not any(n.endswith("/metrics") and n.startswith("tomo/") for n in names)
    # GCPL file: 5 full cycles + the last charge; CE of the later cycles ~92 % (navani file)
    cyc = st["echem/cycles"].load()
    ce = cyc["coulombic_efficiency"].values.astype(float)
    assert 0.85 < ce[0] < 0.88 and np.all((ce[1:] > 0.9) & (ce[1:] < 0.95))
    # the real Data Exchange tooth scan reconstructs to a compact object on a flat background
    tooth = st["tomo/tooth/scans/tooth_APS_Data_Exchange"]
    vol = tooth["volume"].values
    assert vol.shape == (2, 640, 640) and np.isfinite(vol).all()
    c = float(tooth.attrs["center_px"])
    assert 0.3 * 640 < c < 0.7 * 640
    sl = vol[0]
    obj = sl > 0.5 * np.percentile(sl, 99.9)
    yy, xx = np.nonzero(obj)
    assert obj.mean() < 0.2                               # compact object ...
    assert np.hypot(yy.mean() - 320, xx.mean() - 320) < 200  # ... inside the field of view
    assert abs(np.median(sl[~obj])) < 0.1 * np.percentile(sl, 99.9)  # near-zero background
    # the NXtomo scan (angles from the experiment file) and the TIFF stack
    k11 = st["tomo/diad/scans/DIAD_k11-18014_NXtomo"]
    assert k11.attrs["n_projections"] == 3001 and np.isfinite(k11["volume"].values).all()
    elec = st["tomo/electrode/scans/segmented_electrode_TIFF_stack"]["volume"]
    assert set(np.unique(elec[::32].values)) == {0, 85, 170}
    # the raw HEXITEC stream: hits binned on the nominal gain; no Compton peak -> NaN EMF with reason
    hx = st["compton/input/HEXITEC_raw_stream_GSE_sample/cube"].attrs
    assert hx["n_events"] > 1000 and 0 < hx["n_kept_counts"] <= hx["n_events"]
    hsp = st["compton/input/HEXITEC_raw_stream_GSE_sample/spectrum"]
    assert np.isnan(float(hsp["emf"])) and "no Compton peak" in hsp.attrs["emf_reason"]
    # the three iBeatles TOF radiographs as one series, not normalised (no open beam exists)
    nt = st["neutron/input/iBeatles_Image019_TOF_bins"]
    assert nt["counts"].shape == (3, 512, 512) and np.all(np.diff(nt["tof_s"].values) > 0)
    assert nt.attrs["normalisation"].startswith("none") and 25 < float(nt["mean_counts"][0]) < 35
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Scans of the experiment" in html and html.count("<img") >= 8
    assert "Real inputs" in html and "no Compton peak" in html and "Not normalised" in html


def test_a_scan_with_time_s_reconstructs_and_reports(tmp_path):
    """A CT input given its time on the echem clock (no layers declared: reconstruction only)
    keeps the time and the report renders it (it used to crash on the timed sinogram)."""
    tooth = REALDATA / "xray_tomo" / "tomopy_tooth.h5"
    f = tmp_path / "exp.yaml"
    f.write_text(f"name: t\ninputs:\n  tomo:\n    - {{path: {tooth}, format: dxchange, time_s: 100, "
                 "label: tooth}\n")
    assert main(["run", str(f), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    st = Store.open(tmp_path / "run" / "store.zarr")
    (name,) = [n for n in st.names() if n.startswith("tomo/") and "/scans/" in n]
    assert float(st[name]["time_s"].values[0]) == 100.0
    assert (tmp_path / "run" / "report.html").read_text().count("<img") >= 1
