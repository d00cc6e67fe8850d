"""Pipeline runner: ordering, resume after kill -9, identical results, errors."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from ssbscope.errors import PipelineError
from ssbscope.pipeline import Stage, order_stages, run
from ssbscope.store import Store

SCRIPT = textwrap.dedent('''
    import sys, time, pathlib
    import numpy as np, xarray as xr, dask.array as da
    from ssbscope.pipeline import Stage, run

    marker = pathlib.Path(sys.argv[2])

    def make(ctx, inputs, n):
        rng = ctx.rng(1)
        vol = da.from_array(rng.normal(size=(n, 16, 16)), chunks=(4, 16, 16))
        return {"raw/volume": xr.Dataset({"signal": (("z", "y", "x"), vol, {"units": "1"})})}

    def smooth(ctx, inputs, sigma):
        marker.write_text("started")
        time.sleep(float(sys.argv[3]))
        v = inputs["raw/volume"].signal
        out = v.rolling(z=3, center=True, min_periods=1).mean()
        return {"proc/smooth": xr.Dataset({"signal": out})}

    def measure(ctx, inputs):
        s = inputs["proc/smooth"].signal
        return {"proc/metrics": xr.Dataset({"mean_signal": ("z", s.mean(("y", "x")).data, {"units": "1"})})}

    stages = [Stage("measure", measure, inputs=("proc/smooth",), outputs=("proc/metrics",)),
              Stage("make", make, outputs=("raw/volume",), params={"n": 24}),
              Stage("smooth", smooth, inputs=("raw/volume",), outputs=("proc/smooth",), params={"sigma": 1.0})]
    res = run(stages, sys.argv[1], seed=7, quiet=True)
    print("RAN", ",".join(res.ran), "SKIPPED", ",".join(res.skipped))
''')


def _contents(path):
    st = Store.open(path)
    return {n: st[n].load().drop_attrs() for n in st.names()}


def test_kill9_mid_stage_then_resume_equals_uninterrupted(tmp_path):
    script = tmp_path / "pipe.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    # interrupted run: killed while the slow stage runs
    marker = tmp_path / "marker"
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "a.zarr"), str(marker), "30"], env=env)
    t0 = time.time()
    while not marker.exists():
        assert p.poll() is None, "pipeline ended before it could be interrupted"
        assert time.time() - t0 < 120
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    st = Store.open(tmp_path / "a.zarr")
    assert st.names() == ["raw/volume"]          # the killed stage left nothing that reads as valid
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "a.zarr"), str(marker), "0"],
                         env=env, capture_output=True, text=True, check=True)
    assert "RAN smooth,measure SKIPPED make" in out.stdout
    # uninterrupted reference run
    subprocess.run([sys.executable, str(script), str(tmp_path / "b.zarr"), str(marker), "0"],
                   env=env, check=True, capture_output=True)
    a, b = _contents(tmp_path / "a.zarr"), _contents(tmp_path / "b.zarr")
    assert sorted(a) == sorted(b) == ["proc/metrics", "proc/smooth", "raw/volume"]
    for name in a:
        xr.testing.assert_identical(a[name], b[name])


def _const(ctx, inputs, value=1.0):
    return {"a/x": xr.Dataset({"v_s": ("t", np.full(3, value))})}


def _double(ctx, inputs):
    return {"a/y": xr.Dataset({"v_s": inputs["a/x"].v_s * 2})}


def test_rerun_skips_and_param_change_recomputes(tmp_path):
    stages = [Stage("c", _const, outputs=("a/x",), params={"value": 1.0}),
              Stage("d", _double, inputs=("a/x",), outputs=("a/y",))]
    r1 = run(stages, tmp_path / "s.zarr", quiet=True)
    assert r1.ran == ("c", "d")
    r2 = run(stages, tmp_path / "s.zarr", quiet=True)
    assert r2.ran == () and r2.skipped == ("c", "d")
    stages[0] = Stage("c", _const, outputs=("a/x",), params={"value": 2.0})
    r3 = run(stages, tmp_path / "s.zarr", quiet=True)
    assert r3.ran == ("c", "d")           # downstream recomputed because upstream changed
    assert float(Store.open(tmp_path / "s.zarr")["a/y"].v_s[0]) == 4.0


def test_ordering_and_declaration_errors(tmp_path):
    c = Stage("c", _const, outputs=("a/x",))
    d = Stage("d", _double, inputs=("a/x",), outputs=("a/y",))
    assert [s.name for s in order_stages([d, c])] == ["c", "d"]
    with pytest.raises(PipelineError, match="declared twice"):
        order_stages([c, c])
    with pytest.raises(PipelineError, match="no stage writes"):
        order_stages([d])
    with pytest.raises(PipelineError, match="written by both"):
        order_stages([c, Stage("e", _const, outputs=("a/x",))])
    with pytest.raises(PipelineError, match="declares no outputs"):
        Stage("z", _const)


def test_stage_returning_wrong_outputs(tmp_path):
    bad = Stage("bad", _const, outputs=("a/other",))
    with pytest.raises(PipelineError, match="declares outputs"):
        run([bad], tmp_path / "s.zarr", quiet=True)
    assert Store.open(tmp_path / "s.zarr").names() == []


def test_stage_exception_is_wrapped_and_not_recorded(tmp_path):
    def broken(ctx, inputs):
        raise ZeroDivisionError("x")

    with pytest.raises(PipelineError, match="stage 'b' failed: ZeroDivisionError"):
        run([Stage("b", broken, outputs=("a/x",))], tmp_path / "s.zarr", quiet=True)
    assert Store.open(tmp_path / "s.zarr").stage_record("b") is None


def test_distributed_scheduler_gives_same_result(tmp_path):
    distributed = pytest.importorskip("distributed")
    stages = [Stage("c", _const, outputs=("a/x",)), Stage("d", _double, inputs=("a/x",), outputs=("a/y",))]
    run(stages, tmp_path / "local.zarr", quiet=True)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        run(stages, tmp_path / "dist.zarr", quiet=True, scheduler=cluster.scheduler_address)
    a, b = _contents(tmp_path / "local.zarr"), _contents(tmp_path / "dist.zarr")
    for n in a:
        xr.testing.assert_identical(a[n], b[n])


def test_bad_scheduler_address(tmp_path, monkeypatch):
    import ssbscope.pipeline as P

    monkeypatch.setattr(P, "SCHEDULER_CONNECT_TIMEOUT", "1s")  # the same refusal, sooner
    with pytest.raises(PipelineError, match="cannot connect"):
        run([Stage("c", _const, outputs=("a/x",))], tmp_path / "s.zarr", quiet=True,
            scheduler="tcp://127.0.0.1:1")


def _read_file_stage(ctx, inputs, path):
    p = ctx.record_input(path)
    vals = np.array([float(x) for x in p.read_text().split()])
    return {"raw/values": xr.Dataset({"v": ("i", vals, {"units": "1"})})}


def _double_stage(ctx, inputs):
    return {"proc/double": xr.Dataset({"v": inputs["raw/values"].v * 2})}


def test_changed_input_file_recomputes_it_and_everything_downstream(tmp_path):
    """A raw file edited in place (same path, same parameters) is never served stale: the
    stage that read it and its dependants run again; an untouched file resumes."""
    f = tmp_path / "log.txt"
    f.write_text("1 2 3")
    stages = [Stage("read", _read_file_stage, outputs=("raw/values",), params={"path": str(f)}),
              Stage("double", _double_stage, inputs=("raw/values",), outputs=("proc/double",))]
    st = Store.create(tmp_path / "s.zarr")
    assert run(stages, st, quiet=True).ran == ("read", "double")
    assert run(stages, st, quiet=True).ran == ()
    # same size, new content: the new mtime triggers the hash, which differs
    f.write_text("1 2 4")
    assert set(run(stages, st, quiet=True).ran) == {"read", "double"}
    np.testing.assert_array_equal(st["proc/double"].v.values, [2, 4, 8])
    # touched but unchanged content: hashed again, nothing recomputed
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert run(stages, st, quiet=True).ran == ()
    # a removed input file recomputes (and fails with the reader's error)
    f.unlink()
    with pytest.raises(Exception):
        run(stages, st, quiet=True)


def test_unreadable_file_in_a_stage_is_an_input_error_naming_it(tmp_path):
    from ssbscope.errors import InputError

    d = tmp_path / "scan.tif"
    d.mkdir()

    def reads_dir(ctx, inputs):
        open(d, "rb")

    with pytest.raises(InputError, match=r"scan\.tif: cannot be read \(Is a directory\) in stage 'r'"):
        run([Stage("r", reads_dir, outputs=("a/x",))], tmp_path / "s.zarr", quiet=True)


def test_local_cluster_workers_get_larger_heap_thresholds():
    """`--workers N` starts its worker processes with glibc's mmap/trim thresholds at 8/16 MiB
    instead of distributed's MALLOC_TRIM_THRESHOLD_=65536 (which pins the mmap threshold at
    128 KiB: every array above it is mapped and page-faulted afresh, ~20 % system time);
    a value the user configured is kept."""
    import dask

    from ssbscope.heap import MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES
    from ssbscope.pipeline import _local_cluster, _worker_environ

    def heap_env():
        return (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("MALLOC_MMAP_THRESHOLD_"))

    # an earlier cluster of this process leaves distributed's default in os.environ (CI
    # failed on this when another test's LocalCluster ran first in the same worker)
    saved = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"
    try:
        with _local_cluster(1, 10**9, True) as client:
            got = list(client.run(heap_env).values())
        assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # restored
    finally:
        if saved is None:
            os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        else:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = saved
    assert got == [(str(TRIM_THRESHOLD_BYTES), str(MMAP_THRESHOLD_BYTES))]
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 4096}):
        env = _worker_environ()
    assert env["MALLOC_TRIM_THRESHOLD_"] == 4096 and "MALLOC_MMAP_THRESHOLD_" not in env
