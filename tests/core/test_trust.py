"""Store integrity (issue 14): lock on --out, checksum manifests, `ssbscope check`, recompute
of damaged outputs and changed inputs, removal of datasets an experiment no longer produces,
byte-identical reruns.  Each test drives `ssbscope run` in-process on a small echem
experiment (~5 s per run)."""

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ssbscope.cli import main
from ssbscope.errors import StoreError
from ssbscope.pipeline import Stage, run
from ssbscope.store import Store, StoreLockedError


def _write_log(path, current_A=1e-3, n_cycles=3):
    """Galvanostatic cycling CSV: 60 points per half cycle, 60 s apart, fixed decimals."""
    lines = ["time_s,voltage_V,current_A"]
    t = 0.0
    for _ in range(n_cycles):
        for sign in (1, -1):
            for k in range(60):
                v = 3.5 + 0.005 * k if sign > 0 else 3.8 - 0.005 * k
                lines.append(f"{t:.1f},{v:.4f},{sign * current_A:.6f}")
                t += 60.0
    Path(path).write_text("\n".join(lines) + "\n")


def _experiment(tmp_path, logs=("a.csv",)):
    for name in logs:
        if not (tmp_path / name).exists():
            _write_log(tmp_path / name)
    items = "\n".join(f"    - {{path: {n}, label: {Path(n).stem}}}" for n in logs)
    y = tmp_path / "exp.yaml"
    y.write_text(f"name: trust\ncell:\n  area_cm2: 1.0\ninputs:\n  echem:\n{items}\n")
    return y


def _run(yaml_path, out):
    return main(["run", str(yaml_path), "--out", str(out), "--quiet"])


def _stages_ran(caplog):
    return [r.getMessage() for r in caplog.records if "recomputing" in r.getMessage()
            or "deleted from the store" in r.getMessage()]


def test_deleted_chunk_is_reported_by_check_and_recomputed(tmp_path, capsys):
    y = _experiment(tmp_path)
    assert _run(y, tmp_path / "out") == 0
    st = Store.open(tmp_path / "out")
    ref = st["echem/timeseries"]["voltage_V"].values.copy()
    assert main(["check", str(tmp_path / "out" / "store.zarr")]) == 0
    assert "4 dataset(s) verified" in capsys.readouterr().out
    chunk = tmp_path / "out" / "store.zarr" / "echem" / "timeseries" / "voltage_V" / "c" / "0"
    chunk.unlink()
    # without the check the dataset reads back as NaN (Zarr's fill value): the reproduction
    assert np.isnan(st["echem/timeseries"]["voltage_V"].values).all()
    assert main(["check", str(tmp_path / "out")]) == 2
    out = capsys.readouterr()
    assert "echem/timeseries: file voltage_V/c/0 is missing" in out.out
    assert len(out.err.strip().splitlines()) == 1 and "1 problem(s)" in out.err
    assert _run(y, tmp_path / "out") == 0          # the rerun recomputes the damaged stage
    np.testing.assert_array_equal(st["echem/timeseries"]["voltage_V"].values, ref)
    assert main(["check", str(tmp_path / "out")]) == 0


def test_check_finds_changed_content_extra_files_and_missing_outputs(tmp_path, capsys):
    y = _experiment(tmp_path)
    assert _run(y, tmp_path / "out") == 0
    root = tmp_path / "out" / "store.zarr"
    chunk = root / "echem" / "timeseries" / "current_A" / "c" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[-1] ^= 0xFF                                     # same size, other content
    chunk.write_bytes(bytes(raw))
    (root / "echem" / "cycles" / "stray").write_bytes(b"x")
    import shutil

    shutil.rmtree(root / "echem" / "events")
    assert main(["check", str(root)]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(lines)
    assert "echem/timeseries: file current_A/c/0 content changed" in text
    assert "echem/cycles: file stray is not in the manifest (extra)" in text
    assert "echem/events: checksum manifest recorded but the dataset is missing" in text
    assert "stage echem.inputs.analyse: output echem/events is missing" in text
    assert len(lines) == 4
    assert _run(y, tmp_path / "out") == 0
    # resume verifies small datasets by sha256 (large ones by names and sizes): all repaired
    assert main(["check", str(root)]) == 0


def test_resume_of_large_dataset_checks_sizes_only(tmp_path, monkeypatch):
    """Above AUTO_HASH_BYTES a resume compares names and sizes only; `check` hashes all."""
    import ssbscope.store as store_mod

    y = _experiment(tmp_path)
    assert _run(y, tmp_path / "out") == 0
    st = Store.open(tmp_path / "out")
    chunk = tmp_path / "out" / "store.zarr" / "echem" / "timeseries" / "current_A" / "c" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[-1] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    monkeypatch.setattr(store_mod, "AUTO_HASH_BYTES", 0)
    assert st.verify("echem/timeseries", full="auto") == []
    assert st.verify("echem/timeseries", full=True) == [
        "echem/timeseries: file current_A/c/0 content changed (sha256 differs from the manifest)"]
    monkeypatch.setattr(store_mod, "AUTO_HASH_BYTES", 1 << 30)
    assert len(st.verify("echem/timeseries", full="auto")) == 1


def test_damage_found_by_check_is_recomputed_by_the_next_run(tmp_path, monkeypatch, capsys):
    """`ssbscope check` says "re-run to recompute"; for a dataset above AUTO_HASH_BYTES (a
    resume compares sizes only) a same-size change is recorded by check in the manifest, so
    the rerun recomputes it and the store verifies again with the original values."""
    import ssbscope.store as store_mod

    y = _experiment(tmp_path)
    assert _run(y, tmp_path / "out") == 0
    st = Store.open(tmp_path / "out")
    before = st.read("echem/timeseries")["current_A"].values.copy()
    chunk = tmp_path / "out" / "store.zarr" / "echem" / "timeseries" / "current_A" / "c" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[-1] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    monkeypatch.setattr(store_mod, "AUTO_HASH_BYTES", 0)  # every dataset counts as large
    assert main(["check", str(tmp_path / "out")]) == 2
    assert "current_A/c/0 content changed" in capsys.readouterr().out
    assert _run(y, tmp_path / "out") == 0
    assert main(["check", str(tmp_path / "out")]) == 0
    np.testing.assert_array_equal(st.read("echem/timeseries")["current_A"].values, before)


def test_edited_potentiostat_file_is_recomputed(tmp_path, caplog):
    """Reproduction: a potentiostat file edited in place, then the same `ssbscope run`: the
    store used to keep the old charge.  Also with the size kept and the mtime set back."""
    y = _experiment(tmp_path)
    f = tmp_path / "a.csv"
    assert _run(y, tmp_path / "out") == 0
    st = Store.open(tmp_path / "out")
    q1 = float(st["echem/timeseries"]["charge_mAh"].values.max())
    # 2 mA instead of 1 mA: same number of characters, new content
    before = os.stat(f)
    _write_log(f, current_A=2e-3)
    assert os.stat(f).st_size == before.st_size
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))   # mtime set back
    caplog.set_level(logging.WARNING)
    assert _run(y, tmp_path / "out") == 0
    assert any("raw input file changed" in m for m in _stages_ran(caplog))
    q2 = float(st["echem/timeseries"]["charge_mAh"].values.max())
    assert q2 == pytest.approx(2 * q1, rel=1e-9)
    prov = st.provenance("echem/timeseries")
    import hashlib

    assert prov["inputs"][0]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()


def test_removed_input_removes_its_dataset(tmp_path, caplog):
    y = _experiment(tmp_path, logs=("a.csv", "b.csv"))
    assert _run(y, tmp_path / "out") == 0
    st = Store.open(tmp_path / "out")
    assert "echem/b/timeseries" in st.names()
    y = _experiment(tmp_path, logs=("a.csv",))
    caplog.set_level(logging.WARNING)
    assert _run(y, tmp_path / "out") == 0
    assert "echem/b/timeseries" not in st.names()
    assert any("dataset echem/b/timeseries" in m and "deleted" in m for m in _stages_ran(caplog))
    assert "echem/timeseries" in st.names() and main(["check", str(tmp_path / "out")]) == 0
    assert "echem/b/" not in (tmp_path / "out" / "report.html").read_text()
    # no empty group echem/b is left behind, on disk or in the consolidated metadata
    assert not (st.path / "echem" / "b").exists()
    import json as _json

    cm = _json.loads((st.path / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    assert not [k for k in cm if k == "echem/b" or k.startswith("echem/b/")]
    assert "echem/timeseries" in cm and "echem" in cm


_HOLDER = textwrap.dedent('''
    import sys, time, pathlib
    import numpy as np, xarray as xr
    from ssbscope.pipeline import Stage, run

    def slow(ctx, inputs):
        pathlib.Path(sys.argv[2]).write_text("started")
        time.sleep(float(sys.argv[3]))
        return {"a/x": xr.Dataset({"v_s": ("t", np.arange(5.0))})}

    def double(ctx, inputs):
        return {"a/y": xr.Dataset({"v_s": inputs["a/x"].v_s * 2})}

    res = run([Stage("slow", slow, outputs=("a/x",)),
               Stage("double", double, inputs=("a/x",), outputs=("a/y",))], sys.argv[1], quiet=True)
    print("RAN", ",".join(res.ran))
''')


def _start_holder(tmp_path, store, sleep_s):
    script = tmp_path / "holder.py"
    script.write_text(_HOLDER)
    marker = tmp_path / f"marker-{time.time_ns()}"
    p = subprocess.Popen([sys.executable, str(script), str(store), str(marker), str(sleep_s)],
                         stdout=subprocess.PIPE, text=True)
    t0 = time.time()
    while not marker.exists():
        assert p.poll() is None, "holder ended early"
        assert time.time() - t0 < 60
        time.sleep(0.05)
    return p


def _other(ctx, inputs):
    import xarray as xr

    return {"b/z": xr.Dataset({"v_s": ("t", np.ones(3))})}


def test_second_run_on_same_store_refuses_and_first_finishes(tmp_path, capsys):
    store = tmp_path / "out" / "store.zarr"
    p = _start_holder(tmp_path, store, 4)
    try:
        with pytest.raises(StoreLockedError, match=rf"another ssbscope run \(pid {p.pid} on host"):
            run([Stage("other", _other, outputs=("b/z",))], store, quiet=True)
        # the same through the CLI: one line, exit 2, naming the holder
        y = _experiment(tmp_path)
        assert _run(y, tmp_path / "out") == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {p.pid}" in err[0] and "choose another --out" in err[0]
        assert main(["check", str(store)]) == 2           # not while a run writes it
        assert f"pid {p.pid}" in capsys.readouterr().err
    finally:
        out, _ = p.communicate(timeout=60)
    assert p.returncode == 0 and "RAN slow,double" in out
    st = Store.open(store)
    assert st.names() == ["a/x", "a/y"]                 # the refused runs wrote nothing
    np.testing.assert_array_equal(st["a/y"].v_s.values, 2 * np.arange(5.0))
    assert st.check() == []
    assert list((store / ".ssbscope" / "tmp").iterdir()) == []   # no orphan scratch


def test_lock_of_killed_run_is_taken_over(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    store = tmp_path / "s.zarr"
    p = _start_holder(tmp_path, store, 60)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    holder = json.loads((store / ".ssbscope" / "lock").read_text())
    assert holder["pid"] == p.pid                      # a stale lock file of a dead process ...
    res = run([Stage("other", _other, outputs=("b/z",))], store, quiet=True)   # ... is taken over
    assert res.ran == ("other",)
    assert any(f"taking over the lock left by pid {p.pid}" in r.getMessage() for r in caplog.records)
    with Store.open(store).lock():                      # re-entrant in one process
        with Store.open(store).lock():
            pass


def test_two_runs_give_byte_identical_datasets(tmp_path):
    """Same YAML, two output folders: every dataset file is byte-identical, except the
    provenance attribute (UTC time, paths) in the datasets' zarr.json."""
    y = _experiment(tmp_path)
    assert _run(y, tmp_path / "one") == 0
    assert _run(y, tmp_path / "two") == 0
    a, b = tmp_path / "one" / "store.zarr", tmp_path / "two" / "store.zarr"
    names = Store.open(a).names()
    assert names == Store.open(b).names() and len(names) == 4
    n_files = 0
    for name in names:
        fa = sorted(p.relative_to(a) for p in (a / name).rglob("*") if p.is_file())
        fb = sorted(p.relative_to(b) for p in (b / name).rglob("*") if p.is_file())
        assert fa == fb, name
        for rel in fa:
            x, z = (a / rel).read_bytes(), (b / rel).read_bytes()
            if rel.name == "zarr.json":
                jx, jz = json.loads(x), json.loads(z)
                for j in (jx, jz):
                    j.get("attributes", {}).pop("provenance", None)
                assert jx == jz, rel
                assert "seconds" not in json.dumps(jx)     # no timing in the data
            else:
                assert x == z, rel
            n_files += 1
    assert n_files > 20
    # the reports too (tables in a fixed order, figures without dates), but for the UTC time
    # of the header line
    import re

    ra, rb = ((tmp_path / d / "report.html").read_text(encoding="utf-8") for d in ("one", "two"))
    utc = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
    assert len(utc.findall(ra)) == 1 and utc.sub("", ra) == utc.sub("", rb)


def test_store_lock_error_is_a_store_error():
    assert issubclass(StoreLockedError, StoreError)


def test_every_crash_state_of_a_write_resumes_to_a_verified_store(tmp_path):
    """The states a kill -9 can leave between the steps of a stage's write (scratch written,
    dataset renamed without its manifest, manifest without the stage record): each rerun
    recomputes what is unproven and ends with a store that `check` verifies."""
    import shutil

    y = _experiment(tmp_path)
    out = tmp_path / "out"
    assert _run(y, out) == 0
    root = out / "store.zarr"
    meta = root / ".ssbscope"
    # 1. scratch of a dead writer left in tmp (its pid no longer runs)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    shutil.copytree(root / "echem" / "cycles", meta / "tmp" / f"{dead.pid}-{'cd' * 16}")
    # 2. dataset renamed into place, manifest never written
    (meta / "checksums" / "echem" / "events.json").unlink()
    # 3. outputs and manifests written, stage record never written
    (meta / "stages" / "echem.inputs.read.json").unlink()
    assert main(["check", str(root)]) == 2
    assert _run(y, out) == 0
    assert main(["check", str(root)]) == 0
    assert list((meta / "tmp").iterdir()) == []
