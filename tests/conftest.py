"""Fixtures shared across test modules, and the order in which pytest-xdist hands out test files.

The suite must stay under 10 minutes on 2 cores (``pytest -n auto``, ``--dist loadfile``: one
test file is one unit of work, so a file's module fixtures are built once).  Two things keep
the wall time down:

- :func:`tiny_demo` is built once per run, by whichever worker asks first, and shared with the
  other worker through a lock file (the pytest-xdist recipe); so is :func:`tiny_demo_rerun`
  (``ssbscope run`` on the demo's folder), which the other worker builds meanwhile;
- each xdist worker runs numpy's and scipy's OpenBLAS on its share of the cores (one thread
  on 2 cores, :func:`_blas_threads_per_worker`), not one spinning thread per core each;
- :func:`_numba_warm_up` compiles the demo chain's numba kernels once per run, half on each
  worker, before the first test (a clean checkout has no numba cache);
- :func:`pytest_collection_modifyitems` puts the long files first, longest first (the file that
  builds ``tiny_demo``, files named in ``_LONG_FILES_S``, files with
  ``@pytest.mark.slow(seconds=...)`` tests), so that the long units start at once on different workers and the many
  short files fill the gaps at the end (longest-processing-time first; pyproject's
  ``--no-loadscope-reorder`` keeps this order, xdist would otherwise order the files by their
  number of tests, which put the 5-minute tests/report/test_report.py in the middle of the run).
"""

import json
import os
import shutil
from contextlib import contextmanager

import pytest

try:
    import fcntl
except ImportError:  # Windows: no shared build, every worker builds its own demo
    fcntl = None


# ---------------------------------------------------------------- BLAS threads per worker
# OpenBLAS (numpy's and scipy's) starts one thread per core and spins them between calls;
# with pytest-xdist's workers already one per core (``-n auto``) and the pipeline's dask
# threads inside each, those threads only compete for the same cores.  Each worker gets its
# share of the cores instead (1 on CI's 2 cores): ``ssbscope demo --size tiny`` on a loaded
# 2-core machine took 136.3 -> 124.5 CPU-s (user + sys) with one BLAS thread, and its store's
# 1795 chunk files are byte for byte the same.  The environment variables reach a library
# loaded later and subprocesses; threadpoolctl limits one that a plugin already loaded.
def _blas_threads_per_worker():
    n = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not os.environ.get("PYTEST_XDIST_WORKER") or n < 2:
        return None
    per = max(1, (os.cpu_count() or 1) // n)
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(per))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")


_BLAS_LIMIT = _blas_threads_per_worker()  # kept: the limit holds while the object lives

_DEMO_S = 136.0  # ``tiny_demo`` (CPU s): charged to _DEMO_FILE (else the first file that asks for it)
# The file that builds ``tiny_demo``: the demo's own tests, whose first test asks for it; the
# other files that read the demo (tomo/neutron stages, schema, coin CT, interface study, the
# demo-equals-run comparison) weigh little, so they start after it is built.
_DEMO_FILE = "tests/report/test_report.py"
_SLOW_DEFAULT_S = 10.0  # weight of a ``@pytest.mark.slow`` test without a ``seconds=`` hint
# Measured weights (CPU seconds of each file on one xdist worker, `pytest -n 2` on 2 busy cores,
# December 2026; the files this session's suite work changed re-measured in one process on a
# loaded machine; tiny_demo's build not included, tiny_demo_rerun's is, in
# tests/report/test_demo_run.py): they override the ``slow`` marks of a file.
# A weight only orders the files; a stale or missing entry costs wall time, never a test.
# The entries marked (*) were measured later in one process on a machine loaded ~7x
# (user + sys CPU-s, scaled by 0.75, the ratio of that machine's numbers to this table's on
# the files both measured); their slow marks had them at 40-90 s, and the tests/twin XCS
# files, weightless, were the last files handed out (collection order), each 7-14 s on one
# worker while the other stood idle.
_LONG_FILES_S = {
    "tests/report/test_demo_run.py": 113,
    "tests/tomo/test_anode_free_acceptance.py": 56,
    "tests/compton/test_series.py": 55,
    "tests/tomo/test_chunked_series.py": 50,
    "tests/core/test_examples.py": 47,
    "tests/interface/test_stokes.py": 40,
    "tests/transport/test_tortuosity_realdata.py": 36,
    "tests/interface/test_phase_field.py": 36,
    "tests/interface/test_interface_stages.py": 24,
    "tests/tomo/test_trainable.py": 23,
    "tests/tomo/test_symmetric_acceptance.py": 18,
    "tests/tomo/test_stream.py": 18,
    "tests/transport/test_series_transport.py": 17,
    "tests/neutron/test_li_roi.py": 17,
    "tests/echem/test_fuzz_readers.py": 15,
    "tests/core/test_trust.py": 14,
    "tests/report/test_report.py": 14,
    "tests/interface/test_gap_neutron.py": 13,
    "tests/echem/test_stages.py": 13,
    "tests/twin/test_folder.py": 12,
    "tests/interface/test_topography.py": 12,
    "tests/interface/test_study.py": 11,
    "tests/compton/test_events.py": 11,
    "tests/report/test_demo_equals_run.py": 8,
    "tests/tomo/test_stages.py": 7,
    "tests/neutron/test_stages.py": 4,
    "tests/twin/test_coin_ct.py": 3,
    "tests/outside/test_outside_ct.py": 17,  # (*) slow mark 60
    "tests/interface/test_twin_model_plating.py": 14,  # (*) slow mark 80
    "tests/twin/test_xcs_twin.py": 14,  # (*)
    "tests/interface/test_hot_spot_run.py": 13,  # (*) slow mark 40
    "tests/tomo/test_low_attenuation.py": 11,  # (*) slow marks 2 x 45
    "tests/twin/test_xcs_detector_corrections.py": 7,  # (*) one test
}


def pytest_collection_modifyitems(config, items):
    """Long files first, longest first; the rest keep the collection order.

    A file's weight is its entry in ``_LONG_FILES_S``, else the sum of its slow tests'
    ``seconds``; a mark on the module (``pytestmark``) or a class, which states the cost of
    their shared fixtures, counts once, not once per test (a module's ``slow(seconds=60)`` on
    five tests weighed 300 and was handed out before the demo's build); ``_DEMO_FILE`` (else
    the first file that uses ``tiny_demo``) also carries the demo's build.
    Items of one file stay together and in their order, and the sort is stable and depends
    only on the collected items, so every worker collects the same sequence.
    """
    files, slow, demo_file, counted = {}, {}, None, set()
    for i, item in enumerate(items):
        f = item.nodeid.split("::", 1)[0]
        files.setdefault(f, i)
        if "tiny_demo" in getattr(item, "fixturenames", ()) and (demo_file is None or f == _DEMO_FILE):
            demo_file = f
        node, m = next(item.iter_markers_with_node("slow"), (None, None))
        if m is not None and node is not item:  # the module's or a class's mark: once
            if node.nodeid in counted:
                continue
            counted.add(node.nodeid)
        if m is not None:
            slow[f] = slow.get(f, 0.0) + float(m.kwargs.get("seconds", _SLOW_DEFAULT_S))
    weight = {f: _LONG_FILES_S.get(f, slow.get(f, 0.0)) + (_DEMO_S if f == demo_file else 0.0)
              for f in files}
    items.sort(key=lambda it: (-weight[it.nodeid.split("::", 1)[0]], files[it.nodeid.split("::", 1)[0]]))


@contextmanager
def _exclusive(path):
    """Hold an exclusive ``flock`` on ``path`` (created) for the block."""
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _shared_dir(tmp_path_factory, name, build):
    """``build(dir)`` once per test run, shared by the pytest-xdist workers of this run.

    Under xdist the parent of a worker's base temp directory is this run's own base temp
    directory (``pytest-N``), so nothing leaks between runs.  The first worker to take the lock
    builds; the others wait and reuse it.  A failed build is recorded, so that the other workers
    fail at once with its message instead of building again.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None or fcntl is None:  # one process: an ordinary session fixture
        out = tmp_path_factory.mktemp(name)
        build(out)
        return out
    root = tmp_path_factory.getbasetemp().parent
    out, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with _exclusive(root / f"{name}.lock"):
        if failed.exists():
            pytest.fail(f"building {name} failed in another worker:\n{failed.read_text()}")
        if not done.exists():
            if out.exists():
                shutil.rmtree(out)
            out.mkdir()
            try:
                build(out)
            except BaseException as e:
                failed.write_text(f"{type(e).__name__}: {e}")
                raise
            done.write_text(worker)
    return out


def _build_tiny_demo(out):
    """The demo, with the layout of every figure its report embeds recorded on the way
    (``ssbscope.report.layout.recording``), so that the layout test reads the demo's own
    report build instead of building the report a second time (~40 s)."""
    from ssbscope.cli import main
    from ssbscope.report.layout import recording

    with recording() as rec:
        assert main(["demo", "--out", str(out), "--size", "tiny", "--quiet"]) == 0
    records = [[str(cap), [str(p) for p in probs]] for cap, probs in rec]
    _layout_path(out).write_text(json.dumps(records), encoding="utf-8")


def _layout_path(out):
    return out.parent / f"{out.name}.layout.json"


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """``ssbscope demo --size tiny`` (~2 min on 2 cores), run once per test run.

    Shared by every worker of the run (see :func:`_shared_dir`); tests must not modify the folder.
    """
    return _shared_dir(tmp_path_factory, "tiny_demo", _build_tiny_demo)


def _build_tiny_demo_rerun(out):
    """``ssbscope twin demo --size tiny`` into ``out/experiment`` (the folder ``ssbscope demo``
    writes: same seed, same bytes), then ``ssbscope run --no-report`` on it into ``out/run``."""
    from ssbscope.cli import main

    exp = out / "experiment"
    assert main(["twin", "demo", "--out", str(exp), "--size", "tiny", "--quiet"]) == 0
    assert main(["run", str(exp / "experiment.yaml"), "--out", str(out / "run"), "--quiet",
                 "--no-report"]) == 0


@pytest.fixture(scope="session")
def tiny_demo_rerun(tmp_path_factory):
    """The tiny demo's experiment folder run again, from its raw files, in a folder of its own:
    ``DIR/experiment`` (written by ``ssbscope twin demo --size tiny``) and ``DIR/run`` (its
    ``ssbscope run --no-report``; the store only).  Built once per test run and shared like
    :func:`tiny_demo`; tests/report/test_demo_run.py asks for it first, so that it is built
    beside the demo on the other worker, and tests/report/test_demo_equals_run.py compares it
    with the demo (~2 min on 2 cores)."""
    return _shared_dir(tmp_path_factory, "tiny_demo_rerun", _build_tiny_demo_rerun)


@pytest.fixture(scope="session")
def tiny_demo_layout(tiny_demo):
    """[(caption, [layout problem, ...]), ...] of every figure the tiny demo's report embeds,
    recorded while the demo built it (:func:`_build_tiny_demo`)."""
    return [(cap, probs) for cap, probs in json.loads(_layout_path(tiny_demo).read_text(encoding="utf-8"))]


# ---------------------------------------------------------------- numba on a clean checkout
# The kernels are compiled with ``cache=True``: a clean checkout (CI) starts with an empty
# cache, and the two workers' first files (the tiny demo and its rerun) run the same chain at
# the same time, so both compiled every kernel of it (~15 CPU-s each).  Instead each worker
# first compiles the entry points below, one at a time under a lock per kernel, gw0 from the
# top and gw1 from the bottom, skipping a kernel the other holds: each is compiled once and
# written to numba's cache, and the chain loads them.  With a warm cache this only loads them.
# The signatures are those the tiny demo calls (``disp.signatures`` of every ssbscope
# dispatcher after ``ssbscope demo --size tiny``; callees are compiled with their callers);
# a stale one costs its compilation, never a result.


def _numba_entry_points():
    """[(name, dispatcher, signature or [signatures])] of the tiny demo's kernels, roughly by
    compile time."""
    from numba.core import types as T

    def a(dt, nd, ro=False):
        return T.Array(dt, nd, "C", readonly=ro)

    f4, f8, i2, i4, i8 = T.float32, T.float64, T.int16, T.int32, T.int64
    u1, u2, u4, u8, b = T.uint8, T.uint16, T.uint32, T.uint64, T.boolean
    from ssbscope.compton.events import _kernels as events_kernels
    from ssbscope.tomo import chunked, denoise, filters, prep, recon
    from ssbscope.twin.ct_project import _kernel as proj_kernel

    spread, counting_order = recon._get_kernels()
    out = [
        ("denoise._tv2d_stack", denoise._tv2d_stack, (a(f4, 3), f8, f8, i8)),
        # both the float32 and the float64 volumes of the demo (one lock: one cache index)
        ("filters._median3_kernel", filters._median3_kernel, [(a(f4, 3), a(f4, 3), a(i8, 2), a(i8, 2)),
                                                              (a(f8, 3), a(f8, 3), a(i8, 2), a(i8, 2))]),
        ("events.bin_main", events_kernels()["bin_main"],
         (a(u4, 1, True), a(f4, 1, True), i8, i8, a(f4, 1, True), a(f4, 1, True), b, f8, f8, i8,
          b, b, i8, i8, a(u4, 1), a(u1, 1), a(u2, 1), a(u4, 1), a(u4, 1), a(f4, 1), a(i8, 1))),
        ("ct_project.proj_kernel", proj_kernel(), (a(f4, 3), a(f8, 1), a(f8, 1), f8, i8, f8, f8, f8)),
        ("prep._median_rows", prep._median_rows, (a(f4, 2), i8)),
        ("recon.spread", spread, (a(f8, 2), a(f8, 1), a(f8, 1), a(f8, 1), b, a(i4, 1), a(i4, 1),
                                  a(i4, 1), a(i8, 1), a(i8, 1), i8, i8, i8, i8, f8)),
        ("filters._link_slabs", filters._link_slabs,
         (a(i8, 1), a(i8, 1), a(i4, 1), a(i4, 1), a(i4, 1), a(i8, 2), a(i8, 1))),
        ("filters._paint_runs", filters._paint_runs, (a(i4, 3), a(i8, 1), a(i4, 1), a(i4, 1), a(i4, 1))),
        ("prep._zinger_kernel", prep._zinger_kernel,
         (a(f4, 3), f4, i8, b, a(f4, 2), b, a(f4, 2), b, a(f4, 3))),
        ("filters._count_runs", filters._count_runs, (a(b, 3), a(i8, 1))),
        ("prep._sort_keys", prep._sort_keys, (a(f4, 2),)),
        ("filters._fill_runs", filters._fill_runs, (a(b, 3), a(i8, 1), a(i4, 1), a(i4, 1))),
        ("recon.counting_order", counting_order, (a(i2, 1), a(i2, 1), a(i2, 1), i8, a(i4, 1))),
        ("filters._link_faces_resolve", filters._link_faces_resolve,
         (a(i8, 1), a(i8, 1), a(i4, 1), a(i4, 1), a(i4, 1), a(i8, 2), a(i8, 1), a(i4, 1))),
        ("prep._scatter_columns", prep._scatter_columns, (a(f4, 2), a(i8, 2), a(f4, 2))),
        ("chunked._first_index_nb", chunked._first_index_nb, (a(i4, 1), i8)),
        ("prep._decode_keys", prep._decode_keys, (a(u8, 2), a(u4, 2), a(i8, 2))),
    ]
    return [(n, d, s) for n, d, s in out if d is not None]


@pytest.fixture(scope="session", autouse=True)
def _numba_warm_up(tmp_path_factory):
    """Compile (or load) the tiny demo's numba kernels once per run, split between the
    pytest-xdist workers (see above).  Nothing to share in one process: no-op."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None or fcntl is None or os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") == "1":
        return
    root = tmp_path_factory.getbasetemp().parent / "numba_warm_up"
    root.mkdir(exist_ok=True)
    try:
        todo = _numba_entry_points()
    except Exception:  # a renamed kernel: the chain compiles it when it runs
        return
    if int(worker.lstrip("gw") or 0) % 2:
        todo = todo[::-1]
    for name, disp, sig in todo:
        with open(root / f"{name}.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # the other worker is compiling it
                continue
            try:
                done = root / f"{name}.done"
                if not done.exists():
                    for one in (sig if isinstance(sig, list) else [sig]):
                        try:
                            disp.compile(one)
                        except Exception:  # a stale signature: costs its compilation only
                            pass
                    done.write_text(worker)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


#: The drifted three-scan anode-free series of tests/tomo/test_chunked_series.py and
#: tests/tomo/test_pores_split_once.py: charges (mAh cm^-2) and the later scans' (y, x) drift.
ANODE_FREE_RECON_3 = ((0.0, 1.5, 3.0), [(-0.6, 0.8), (2.0, -1.0)])


def _build_anode_free_recon_3(out):
    import numpy as np

    from ssbscope.testing import anode_free_recon_series

    for k, v in enumerate(anode_free_recon_series(*ANODE_FREE_RECON_3)):
        np.save(out / f"scan{k}.npy", v)


@pytest.fixture(scope="session")
def anode_free_recon_3_dir(tmp_path_factory):
    """Folder of ``scan{k}.npy``: :func:`ssbscope.testing.anode_free_recon_series` of
    :data:`ANODE_FREE_RECON_3` (three 56 x 40 x 40 float32 reconstructions), built once per
    test run and shared like :func:`tiny_demo` (both files that use it built the same series,
    ~2.5 CPU-s, ~9 with a cold numba cache).  Each module loads its own arrays
    (``np.load``): the .npy files hold the builder's float32 bytes."""
    return _shared_dir(tmp_path_factory, "anode_free_recon_3", _build_anode_free_recon_3)


# ---------------------------------------------------------------- where the wall time goes
# Each phase's report (setup, call, teardown) carries its start and stop (epoch seconds); under
# pytest-xdist the controller receives them with the worker (``report.node``).  The summary
# below gives, at the end of the run, each worker's busy time and the time it stood idle
# before the last worker finished (the cost of the file order), and the files by time with
# their worker: the measured weights ``_LONG_FILES_S`` should be refreshed from it.
_PHASES = []  # (file, worker, start, stop)


def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker: the controller tallies
        return
    node = getattr(report, "node", None)
    worker = getattr(getattr(node, "gateway", None), "id", None) or "main"
    start, stop = getattr(report, "start", 0.0), getattr(report, "stop", 0.0)
    if stop > start > 0:
        _PHASES.append((report.nodeid.split("::", 1)[0], worker, start, stop))


def pytest_terminal_summary(terminalreporter):
    if not _PHASES:
        return
    tr = terminalreporter
    t0 = min(p[2] for p in _PHASES)
    t1 = max(p[3] for p in _PHASES)
    files, workers = {}, {}
    for f, w, a, b in _PHASES:
        s = files.setdefault(f, [0.0, set(), a, b])
        s[0] += b - a
        s[1].add(w)
        s[2], s[3] = min(s[2], a), max(s[3], b)
        v = workers.setdefault(w, [0.0, b])
        v[0] += b - a
        v[1] = max(v[1], b)
    tr.write_sep("=", "wall time by worker and by file (tests/conftest.py)")
    for w in sorted(workers):
        busy, last = workers[w]
        tr.write_line(f"{w}: busy {busy:7.1f} s, last test ended at {last - t0:7.1f} s "
                      f"(idle {t1 - last:6.1f} s before the run's end at {t1 - t0:.1f} s)")
    top = sorted(files.items(), key=lambda kv: -kv[1][0])[:30]
    tr.write_line("files by summed test time (s), worker, started at (s from the first test):")
    for f, (s, ws, a, _b) in top:
        tr.write_line(f"{s:8.1f}  {','.join(sorted(ws)):>5}  {a - t0:7.1f}  {f}")
