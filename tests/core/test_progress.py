"""Progress piped to a file or CI: one plain line per stage start/end with its time, no
carriage returns or escape sequences; bars on a terminal."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr

from ssbscope.pipeline import Stage, run
from ssbscope.progress import StageProgress, iterate

SRC = Path(__file__).resolve().parents[2] / "src"


def _ones(ctx, inputs, n=3):
    total = 0.0
    for k in ctx.progress(range(n), desc="summing", total=n):
        total += k
    return {"a/x": xr.Dataset({"v_um": ("i", np.arange(n, dtype=float) + total)})}


def _twice(ctx, inputs):
    return {"a/y": inputs["a/x"] * 2}


STAGES = [Stage("a.x", _ones, outputs=("a/x",)), Stage("a.y", _twice, inputs=("a/x",), outputs=("a/y",))]

LINE = re.compile(r"^\[ssbscope\] stage (\d+)/2 (a\.[xy]): (start|done in \d+\.\d s|finished earlier, skipped)$")


def test_piped_progress_is_one_plain_line_per_stage_start_and_end(tmp_path, capsys):
    run(STAGES, tmp_path / "s.zarr")
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert [LINE.match(ln).group(3).split(" ")[0] for ln in lines] == ["start", "done", "start", "done"]
    assert lines[0] == "[ssbscope] stage 1/2 a.x: start"
    assert re.match(r"^\[ssbscope\] stage 1/2 a\.x: done in \d+\.\d s$", lines[1])
    assert lines[2] == "[ssbscope] stage 2/2 a.y: start"
    # a resumed run says so, one line per stage
    run(STAGES, tmp_path / "s.zarr")
    assert capsys.readouterr().err.splitlines() == [
        "[ssbscope] stage 1/2 a.x: finished earlier, skipped",
        "[ssbscope] stage 2/2 a.y: finished earlier, skipped"]


def test_quiet_writes_nothing(tmp_path, capsys):
    run(STAGES, tmp_path / "s.zarr", quiet=True)
    assert capsys.readouterr().err == ""


def test_piped_through_a_real_pipe(tmp_path):
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_progress import STAGES
        from ssbscope.pipeline import run
        run(STAGES, {str(tmp_path / 's.zarr')!r})
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("[ssbscope]")]
    assert len(lines) == 4 and all(LINE.match(ln) for ln in lines), r.stderr
    assert "\r" not in r.stderr and "\x1b" not in r.stderr


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_the_bar():
    s = _Tty()
    p = StageProgress(2, stream=s)
    assert p.bar is not None
    p.start("a.x")
    p.done("a.x", 1.0)
    p.close()
    assert "[ssbscope] stage" not in s.getvalue() and "ssbscope" in s.getvalue()


def test_inner_progress_plain_lines_are_throttled(monkeypatch):
    import ssbscope.progress as pr

    s = io.StringIO()
    monkeypatch.setattr(pr, "INNER_INTERVAL_S", 0.0)
    assert list(iterate(range(3), "stage tomo.recon", stream=s)) == [0, 1, 2]
    assert s.getvalue().splitlines() == ["[ssbscope] stage tomo.recon: 1/3", "[ssbscope] stage tomo.recon: 2/3",
                                         "[ssbscope] stage tomo.recon: 3/3"]
    s2 = io.StringIO()
    monkeypatch.setattr(pr, "INNER_INTERVAL_S", 3600.0)
    assert list(iterate(range(3), "x", stream=s2)) == [0, 1, 2] and s2.getvalue() == ""


def test_run_reports_the_report_step_in_plain_lines(tmp_path, capsys):
    """``ssbscope run`` piped: the report (a minute on the demo) has its start and end line."""
    from ssbscope.cli import main

    t = np.arange(0.0, 7200.0, 60.0)
    cur = np.where(t < 3600, 1e-4, -1e-4)
    v = 3.5 + 0.2 * np.where(t < 3600, t / 3600, 2 - t / 3600)
    (tmp_path / "log.csv").write_text("time_s,voltage_V,current_A\n" + "".join(
        f"{a},{b},{c}\n" for a, b, c in zip(t, v, cur)))
    (tmp_path / "exp.yaml").write_text("name: progress\ncell: {area_cm2: 1.0}\n"
                                       "inputs:\n  echem:\n    - {path: log.csv}\n")
    assert main(["run", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("[ssbscope] report")]
    assert lines[0] == "[ssbscope] report: start"
    assert re.match(r"^\[ssbscope\] report: done in \d+\.\d s$", lines[-1]), lines
    assert all(re.match(r"^\[ssbscope\] report: \d+/\d+$", ln) for ln in lines[1:-1]), lines
    assert "\r" not in err and "\x1b" not in err


def test_a_task_graph_inside_a_stage_reports_its_finished_tasks(monkeypatch):
    """ssbscope.progress.compute: plain ``k/N`` lines over the finished delayeds (equal pure
    tasks counted once), results in order; silent with quiet."""
    import dask

    import ssbscope.progress as pr

    monkeypatch.setattr(pr, "INNER_INTERVAL_S", 0.0)
    ds = [dask.delayed(lambda x: x * x, pure=True)(k) for k in (1, 2, 3, 2)]
    s = io.StringIO()
    with dask.config.set(scheduler="threads"):
        assert pr.compute(ds, "squares", stream=s) == (1, 4, 9, 4)
    lines = s.getvalue().splitlines()
    assert sorted(lines) == [f"[ssbscope] squares: {k}/3" for k in (1, 2, 3)], lines
    s2 = io.StringIO()
    assert pr.compute(ds, "squares", quiet=True, stream=s2) == (1, 4, 9, 4) and s2.getvalue() == ""


def test_a_task_graph_on_a_distributed_client_reports_its_finished_tasks(monkeypatch):
    import dask

    distributed = __import__("pytest").importorskip("distributed")
    import ssbscope.progress as pr

    monkeypatch.setattr(pr, "INNER_INTERVAL_S", 0.0)
    ds = [dask.delayed(lambda x: x + 1, pure=True)(k) for k in range(3)]
    s = io.StringIO()
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None, set_as_default=True):
        assert pr.compute(ds, "plus one", stream=s) == (1, 2, 3)
    assert s.getvalue().splitlines() == [f"[ssbscope] plus one: {k}/3" for k in (1, 2, 3)]


def test_the_contour_study_stage_reports_its_contours_when_piped(tmp_path, capsys, monkeypatch):
    """The demo's interface.contour_study ran 128 s with no line between its start and end
    (issue 15 §5: long single stages report inner progress); now one line per finished contour
    (throttle off here)."""
    import ssbscope.progress as pr
    from ssbscope.cli import main

    monkeypatch.setattr(pr, "INNER_INTERVAL_S", 0.0)
    (tmp_path / "exp.yaml").write_text(textwrap.dedent("""\
        name: contours
        analysis:
          interface:
            cases: [[5, 150], [25, 150]]
            shapes: [egg-box]
            r_ct_ohm_cm2: 10
            conductivity_s_cm: 0.002
            thickness_um: 1000
            pressure_model: small-slope   # analytic creep pressure and a coarse grid: fast
            n_xy: 6
        """))
    assert main(["run", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "out"),
                 "--no-report"]) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    i0 = lines.index(next(ln for ln in lines if ln.endswith("interface.contour_study: start")))
    i1 = lines.index(next(ln for ln in lines if "interface.contour_study: done in" in ln))
    inner = [ln for ln in lines[i0 + 1:i1] if "interface contour study" in ln]
    assert sorted(inner) == ["[ssbscope] interface contour study: 1/2",
                             "[ssbscope] interface contour study: 2/2"], lines[i0:i1 + 1]
    assert "\r" not in err and "\x1b" not in err


def test_the_report_reports_its_sections_when_piped(tmp_path, capsys, monkeypatch):
    """The report is one step of ~2 minutes on the demo (108 s at size small): piped, it says
    how far it is (one line per built section with the throttle off); quiet by default."""
    import ssbscope.progress as pr
    from ssbscope.report import build_report
    from ssbscope.store import Store

    monkeypatch.setattr(pr, "INNER_INTERVAL_S", 0.0)
    st = Store.create(tmp_path / "s.zarr")
    st.write("misc/x", xr.Dataset({"v_s": ("t", np.arange(3.0))}))
    build_report(st, tmp_path / "r.html")
    assert capsys.readouterr().err == ""
    build_report(st, tmp_path / "r.html", quiet=False)
    lines = capsys.readouterr().err.splitlines()
    n = int(lines[-1].rsplit("/", 1)[1])
    assert n >= 2 and lines == [f"[ssbscope] report: {k}/{n}" for k in range(1, n + 1)], lines
