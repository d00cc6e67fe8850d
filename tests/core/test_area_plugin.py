"""A new modality is one new package: an X-ray diffraction area registered through the
``ssbscope.areas`` entry-point group adds its YAML keys, stages and report section without a
line of ssbscope changing (run in a subprocess so the registry is built afresh)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

PACKAGE = {
    "xrdscope/__init__.py": '''
        from ssbscope.areas import Area
        AREA = Area("xrd", "X-ray diffraction", stages="xrdscope.stages", report="xrdscope.report",
                    inputs=True, store_keys=("xrd/<label>/pattern",),
                    input_model="xrdscope.config:XrdInput", analysis_model="xrdscope.config:XrdAnalysis",
                    input_description="diffraction patterns (two-column text)")
    ''',
    "xrdscope/config.py": '''
        from pydantic import Field
        from ssbscope.config import _Model

        class XrdInput(_Model):
            path: str = Field(description="pattern file: two columns, 2theta (deg) and counts")
            label: str = Field(default="pattern", description="name in the store")

        class XrdAnalysis(_Model):
            peak_window_deg: float = Field(default=1.0, gt=0, description="window around the maximum")
    ''',
    "xrdscope/stages.py": '''
        import numpy as np, xarray as xr
        from ssbscope.pipeline import Stage

        def _read(ctx, inputs, *, path, label, window):
            p = ctx.record_input(path)
            tt, counts = np.loadtxt(p, unpack=True)
            k = int(np.argmax(counts))
            return {f"xrd/{label}/pattern": xr.Dataset(
                {"counts": ("two_theta_deg", counts, {"units": "1"})},
                coords={"two_theta_deg": tt}, attrs={"peak_deg": float(tt[k])})}

        def input_stages(exp):
            return [Stage(f"xrd.{it.label}", _read, outputs=(f"xrd/{it.label}/pattern",),
                          params={"path": str(exp.resolve(it.path)), "label": it.label,
                                  "window": exp.analysis.xrd.peak_window_deg})
                    for it in exp.inputs.xrd]
    ''',
    "xrdscope/report.py": '''
        from ssbscope.report import Section
        def section(store):
            names = [n for n in store.names() if n.startswith("xrd/")]
            if not names:
                return None
            peak = store[names[0]].attrs["peak_deg"]
            return Section("X-ray diffraction", f"<p>peak at {peak:.2f} deg</p>")
    ''',
    "xrdscope-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: xrdscope\nVersion: 0.1\n",
    "xrdscope-0.1.dist-info/entry_points.txt": "[ssbscope.areas]\nxrd = xrdscope:AREA\n",
}

SCRIPT = '''
import sys
from ssbscope.config import load
from ssbscope.workflow import run_experiment
from ssbscope.areas import registry
assert [a.name for a in registry()][-1] == "xrd"
exp = load(sys.argv[1])
assert exp.analysis.xrd.peak_window_deg == 0.5
res = run_experiment(exp, sys.argv[2], quiet=True)
html = res.report_path.read_text()
print("xrd" in [n.split("/")[0] for n in res.result.store.names()], "X-ray diffraction" in html,
      "peak at 28.40 deg" in html)
'''


def test_a_new_modality_is_one_package(tmp_path):
    for rel, text in PACKAGE.items():
        f = tmp_path / "site" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text))
    (tmp_path / "pattern.txt").write_text("\n".join(f"{20 + 0.1 * i:.1f} {100 + (50 if i == 84 else 0)}"
                                                     for i in range(200)))
    (tmp_path / "exp.yaml").write_text("name: xrd\ninputs:\n  xrd:\n    - {path: pattern.txt}\n"
                                       "analysis:\n  xrd: {peak_window_deg: 0.5}\n")
    (tmp_path / "run.py").write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"),
                                                       os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "exp.yaml"),
                        str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["True", "True", "True"]
    # without the plugin the key is unknown: one clear error
    from ssbscope.config import validate_file

    probs = dict(validate_file(tmp_path / "exp.yaml"))
    assert "unknown key" in probs["inputs.xrd"]
