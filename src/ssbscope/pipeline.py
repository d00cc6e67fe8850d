"""Resumable pipeline runner on Dask.

A :class:`Stage` is a plain function with declared inputs and outputs (dataset names in the
experiment store)::

    def reconstruct(ctx, inputs, *, filter_name="ramp"):
        proj = inputs["tomo/projections"]          # xarray.Dataset, Dask-backed
        ...
        return {"tomo/volumes": volumes_ds}       # one xarray.Dataset per declared output

    Stage("tomo.reconstruct", reconstruct, inputs=("tomo/projections",),
          outputs=("tomo/volumes",), params={"filter_name": "ramp"})

:func:`run` executes stages in dependency order.  After a stage's outputs are written
(atomically) the runner records the stage with a fingerprint of its name, parameters,
seed, ssbscope version and the fingerprints of the stages it depends on.  A re-run skips
every stage whose record matches, so a run interrupted at any point (even ``kill -9``)
resumes where it stopped and produces the same store contents as an uninterrupted run.

Array work runs through Dask: the local threaded scheduler by default, or an existing
``dask.distributed`` cluster when ``scheduler="tcp://host:port"`` is given.  ssbscope never
schedules work itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ssbscope.errors import PipelineError, SsbscopeError
from ssbscope.store import Store, _jsonable, check_regular_file, provenance_record, sha256_file

__all__ = ["Stage", "StageContext", "RunResult", "run", "order_stages", "prune", "parse_memory"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """One pipeline step.

    Parameters
    ----------
    name : str
        Unique name (``"echem.analyse"``).
    func : callable
        ``func(ctx, inputs, **params) -> dict[str, xarray.Dataset]``; ``inputs`` maps each
        declared input name to a lazily opened dataset.
    inputs : tuple of str
        Store datasets the stage reads (produced by earlier stages or present already).
    outputs : tuple of str
        Store datasets the stage writes; the function must return exactly these.
    params : mapping
        Keyword arguments for ``func``; part of the fingerprint.
    long : bool
        Show a progress bar while its outputs are computed.
    """

    name: str
    func: Callable
    inputs: tuple = ()
    outputs: tuple = ()
    params: Mapping = field(default_factory=dict)
    long: bool = False

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise PipelineError(f"stage name {self.name!r}: must be a non-empty string")
        if not callable(self.func):
            raise PipelineError(f"stage {self.name!r}: func is not callable")
        if not self.outputs:
            raise PipelineError(f"stage {self.name!r}: declares no outputs; every stage writes at least one dataset")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "params", dict(self.params))


@dataclass
class StageContext:
    """What a stage function may use besides its inputs.

    Attributes
    ----------
    stage : str
        Name of the running stage.
    store : Store
        The experiment store (read other datasets with ``ctx.store[name]``).
    raw_dir : Path
        Where raw input files live (the twin writes its files here).
    work_dir : Path
        Scratch space for this run.
    seed : int
        Run seed: derive generators with ``numpy.random.default_rng([seed, k])``.
    config : object
        The experiment configuration (``ssbscope.config.Experiment``) or None.
    quiet : bool
        No progress output.
    memory_limit_bytes : int or None
        Memory one process running array work may use (``ssbscope run --memory-limit``;
        per worker with ``--workers``); stages size their blocks by it.
    n_workers : int or None
        Worker processes of the LocalCluster started by ``--workers`` (None: local threads
        or the cluster at ``--scheduler``).
    """

    stage: str
    store: Store
    raw_dir: Path
    work_dir: Path
    seed: int = 0
    config: Any = None
    quiet: bool = False
    memory_limit_bytes: int | None = None
    n_workers: int | None = None
    _inputs: list = field(default_factory=list)

    def record_input(self, path) -> Path:
        """Declare a raw file this stage read (hashed into the outputs' provenance)."""
        p = Path(path)
        st = check_regular_file(p)  # refuses FIFOs/devices before any read; stat before hashing:
        # a file changed meanwhile then fails the next check
        self._inputs.append({"path": str(p.resolve()), "sha256": sha256_file(p),
                             "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                             "ctime_ns": st.st_ctime_ns})
        return p

    def progress(self, iterable: Iterable, desc: str | None = None, total: int | None = None):
        """Wrap a loop in a progress bar (plain lines when stderr is no terminal; silent with
        ``quiet``): :func:`ssbscope.progress.iterate`."""
        from ssbscope.progress import iterate

        return iterate(iterable, desc or f"stage {self.stage}", total=total, quiet=self.quiet)

    def compute(self, delayeds, desc: str | None = None) -> tuple:
        """``dask.compute(*delayeds)`` on the run's scheduler, reporting the finished tasks like
        :meth:`progress` (a bar on a terminal, plain ``k/N`` lines elsewhere, silent with
        ``quiet``): :func:`ssbscope.progress.compute`."""
        from ssbscope.progress import compute

        return compute(delayeds, desc or f"stage {self.stage}", quiet=self.quiet)

    def rng(self, *keys: int):
        """A seeded numpy Generator derived from the run seed and ``keys``."""
        import numpy as np

        return np.random.default_rng([int(self.seed), *[int(k) for k in keys]])


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` did.

    Attributes
    ----------
    store : Store
    ran : tuple of str
        Stages computed in this run.
    skipped : tuple of str
        Stages found finished (resumed).
    seconds : dict
        Wall time per computed stage (s).
    """

    store: Store
    ran: tuple
    skipped: tuple
    seconds: dict


def order_stages(stages: Sequence[Stage], available: Iterable[str] = ()) -> list[Stage]:
    """Topological order of ``stages`` (stable: declaration order where free).

    Raises
    ------
    PipelineError
        Duplicate names or outputs, an input nobody produces, or a cycle.
    """
    names = [s.name for s in stages]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise PipelineError(f"stage names {sorted(dup)} are declared twice; give each stage a unique name")
    producer: dict[str, str] = {}
    for s in stages:
        for o in s.outputs:
            if o in producer:
                raise PipelineError(f"dataset {o!r} is written by both {producer[o]!r} and {s.name!r}")
            producer[o] = s.name
    available = set(available)
    for s in stages:
        for i in s.inputs:
            if i not in producer and i not in available:
                raise PipelineError(f"stage {s.name!r} reads {i!r}, which no stage writes and the store "
                                    "does not hold; add the stage that produces it")
    done: list[Stage] = []
    placed: set[str] = set()
    remaining = list(stages)
    while remaining:
        progressed = False
        for s in list(remaining):
            deps = {producer[i] for i in s.inputs if i in producer}
            if deps <= placed:
                done.append(s)
                placed.add(s.name)
                remaining.remove(s)
                progressed = True
                break
        if not progressed:
            raise PipelineError(f"stages {[s.name for s in remaining]} depend on each other in a cycle")
    return done


def _func_id(func: Callable) -> str:
    mod = getattr(func, "__module__", "?")
    qual = getattr(func, "__qualname__", repr(func))
    try:
        src = inspect.getsource(func)
    except (OSError, TypeError):
        src = ""
    return f"{mod}.{qual}:{hashlib.sha256(src.encode()).hexdigest()[:16]}"


def _inputs_unchanged(record: Mapping, hashes: dict) -> bool:
    """Whether every raw file a finished stage read still has the content it had then.

    The content hash (sha256) of each file is computed once per run and only for files whose
    size, modification time or status-change time (``st_ctime``) differ from the recorded
    ones, so a resume stays cheap.  A file edited in place always gets a new ctime, even when
    its size is kept and its mtime is set back (``touch -d``/``os.utime`` change the ctime
    too, and no user call sets it), so it is re-hashed and recomputed.  What escapes: content
    changed while size, mtime and ctime stay equal (a raw block-device write, or a file
    system that does not keep ctime); ``force=`` recomputes a stage regardless.
    """
    import os

    for rec in record.get("inputs", ()) or ():
        path = rec.get("path")
        if not path:
            continue
        try:
            st = os.stat(path)
        except OSError:
            return False
        if (rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns
                and rec.get("ctime_ns") == st.st_ctime_ns):
            continue
        if path not in hashes:
            try:
                hashes[path] = sha256_file(path)
            except (OSError, SsbscopeError):
                return False
        if hashes[path] != rec.get("sha256"):
            return False
    return True


def _effective(fp: str, recorded) -> str:
    """A finished stage's fingerprint as its dependants see it: its own, plus the content of
    the raw files it read (so a changed file re-runs everything downstream)."""
    if not recorded:
        return fp
    digests = sorted(str(r.get("sha256", "")) for r in recorded)
    return hashlib.sha256((fp + json.dumps(digests)).encode()).hexdigest()


def _fingerprint(stage: Stage, seed: int, upstream: Mapping[str, str]) -> str:
    from ssbscope import __version__

    payload = {
        "name": stage.name,
        "func": _func_id(stage.func),
        "params": _jsonable(stage.params),
        "inputs": list(stage.inputs),
        "outputs": list(stage.outputs),
        "upstream": dict(sorted(upstream.items())),
        "seed": int(seed),
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def parse_memory(value) -> int | None:
    """Bytes of a memory size: ``"4GB"``, ``"3.5 GiB"``, ``"500MB"`` or a number of bytes.

    Raises
    ------
    PipelineError
        Unreadable or not positive.
    """
    if value is None:
        return None
    from dask.utils import parse_bytes

    try:
        n = int(parse_bytes(value)) if isinstance(value, str) else int(value)
    except (ValueError, TypeError) as e:
        raise PipelineError(f"memory limit {value!r}: not a size; write e.g. 4GB, 3.5GiB or "
                            "500MB") from e
    if n <= 0:
        raise PipelineError(f"memory limit {value!r}: must be > 0")
    return n


def _worker_environ() -> dict:
    """Environment of the LocalCluster's worker processes: distributed's
    ``distributed.nanny.pre-spawn-environ`` with glibc's heap thresholds raised from its
    ``MALLOC_TRIM_THRESHOLD_=65536`` (which also pins the mmap threshold at 128 KiB, so every
    array above it is mapped afresh and page-faulted on each use) to
    :data:`ssbscope.heap.MMAP_THRESHOLD_BYTES` / :data:`ssbscope.heap.TRIM_THRESHOLD_BYTES`
    (8 / 16 MiB).  Measured on a 1-worker LocalCluster (1.5 GB), 32 rows of a 2048 px x
    1500 angle scan: worker system time 14.7-19.5 -> 7.4-9.8 CPU-s, minor page faults 3.9-6.0
    -> 1.7 million, the same peak RSS (benchmarks/README.md).  A variable the user set in the
    config wins; an existing cluster's workers (``--scheduler``) are left alone."""
    import dask
    import distributed  # noqa: F401  (loads distributed's config defaults)

    from ssbscope.heap import MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", None) or {})
    if str(env.get("MALLOC_TRIM_THRESHOLD_", "65536")) == "65536":
        env["MALLOC_TRIM_THRESHOLD_"] = str(TRIM_THRESHOLD_BYTES)
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD_BYTES))
    return env


@contextlib.contextmanager
def _local_cluster(workers: int, memory_limit: int | None, quiet: bool):
    """A LocalCluster of ``workers`` processes (each ``memory_limit`` bytes), closed after."""
    import os

    import dask
    from distributed import Client, LocalCluster

    threads = max(1, (os.cpu_count() or 1) // int(workers))
    env = _worker_environ()
    # distributed lets os.environ override the config and leaves each nanny's pre-spawn values
    # in os.environ: after an earlier cluster in this process (distributed's 65536 among them)
    # the config alone would not reach the workers.  A value other than that default is the
    # user's and is kept; os.environ is restored once the workers are spawned.
    heap_keys = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
    saved = {k: os.environ.get(k) for k in heap_keys}
    if saved["MALLOC_TRIM_THRESHOLD_"] in (None, "65536"):
        os.environ.update({k: str(env[k]) for k in heap_keys if k in env})
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            cluster = LocalCluster(n_workers=int(workers), threads_per_worker=threads,
                                   processes=True,
                                   memory_limit=memory_limit if memory_limit else "auto",
                                   dashboard_address=None, silence_logs=logging.ERROR)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        client = Client(cluster, set_as_default=True)
        try:
            log.info("LocalCluster: %d workers x %d threads, %s per worker", workers, threads,
                     f"{memory_limit / 1e9:.2f} GB" if memory_limit else "no memory limit")
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


#: How long ``--scheduler ADDRESS`` waits for the scheduler before it gives up (a Dask
#: time string).
SCHEDULER_CONNECT_TIMEOUT = "10s"


@contextlib.contextmanager
def _dask_context(scheduler: str | None, quiet: bool, workers: int | None = None,
                  memory_limit: int | None = None):
    import dask

    if scheduler and workers:
        raise PipelineError("--scheduler and --workers: give one (a running cluster, or the "
                            "number of local worker processes to start)")
    if workers:
        if int(workers) < 1:
            raise PipelineError(f"workers: {workers} must be >= 1")
        with _local_cluster(int(workers), memory_limit, quiet) as client:
            yield client
    elif scheduler:
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover - distributed is a core dependency
            raise PipelineError("--scheduler needs dask.distributed; pip install distributed") from e
        try:
            client = Client(scheduler, timeout=SCHEDULER_CONNECT_TIMEOUT, set_as_default=True)
        except (OSError, TimeoutError) as e:
            raise PipelineError(f"scheduler {scheduler!r}: cannot connect ({e}); check the address "
                                "(tcp://host:port) and that the cluster is running") from e
        try:
            yield client
        finally:
            client.close()
    else:
        with dask.config.set(scheduler="threads"):
            yield None


def run(stages: Sequence[Stage], store: Store | str | Path, *, raw_dir=None, work_dir=None,
        seed: int = 0, config=None, scheduler: str | None = None, quiet: bool = False,
        force: Iterable[str] = (), memory_limit=None, workers: int | None = None) -> RunResult:
    """Run ``stages`` against ``store``, resuming finished ones.

    Parameters
    ----------
    stages : sequence of Stage
    store : Store or path
        Created if missing.
    raw_dir, work_dir : path, optional
        Raw input files and scratch space (default: ``<store parent>/raw`` and
        ``<store>/.ssbscope/work``).
    seed : int
        Run seed (part of every fingerprint).
    config : object, optional
        Experiment configuration handed to stages as ``ctx.config``.
    scheduler : str, optional
        Address of a running dask.distributed scheduler; default: local threads.
    quiet : bool
        No progress bars.
    force : iterable of str
        Stage names to recompute even if recorded.
    memory_limit : int or str, optional
        Memory the run may use (``"4GB"`` or bytes): the process's with local threads; with
        ``workers`` it is shared equally by the worker processes (each gets
        ``memory_limit / workers`` as its Dask ``memory_limit``).  Stages read the
        per-process value as ``ctx.memory_limit_bytes`` and size their blocks by it.
    workers : int, optional
        Start a ``dask.distributed`` LocalCluster of this many worker processes for the run
        (closed at the end).

    Returns
    -------
    RunResult
    """
    if not isinstance(store, Store):
        store = Store.create(store)
    with store.lock():
        return _run_locked(stages, store, raw_dir=raw_dir, work_dir=work_dir, seed=seed,
                           config=config, scheduler=scheduler, quiet=quiet, force=force,
                           memory_limit=memory_limit, workers=workers)


def _stage_error(stage: str, e: Exception) -> SsbscopeError:
    """The ssbscope error for an exception escaping a stage: an unreadable file (``OSError``
    with a file name, a decoding or parser error) is an :class:`InputError` naming the file;
    anything else a :class:`PipelineError` (one line, "re-run with --debug")."""
    from ssbscope.errors import InputError

    fn = getattr(e, "filename", None)
    if isinstance(e, OSError) and fn:
        return InputError(f"{fn}: cannot be read ({e.strerror or type(e).__name__}) in stage "
                          f"{stage!r}; check the path (a data file of the declared format is expected)")
    msg = " ".join(str(e).split())[:300]
    if isinstance(e, UnicodeError) or type(e).__module__.startswith("pandas.errors"):
        return InputError(f"stage {stage!r}: an input file cannot be parsed ({type(e).__name__}); "
                          "check the file is complete and in the declared format")
    return PipelineError(f"stage {stage!r} failed: {type(e).__name__}: {msg}; "
                         "re-run with --debug for the traceback")


def prune(stages: Sequence[Stage], store: Store) -> list[str]:
    """Remove from ``store`` what earlier runs produced and ``stages`` no longer do.

    A dataset is removed when no stage of ``stages`` writes it and it was written by a
    pipeline stage (a stage record lists it, or its provenance names a stage): an input
    removed from the experiment, a stage that no longer exists, or a stage whose outputs
    changed.  Records of stages not in ``stages`` are forgotten.  Datasets written outside
    the pipeline (no stage in their provenance) are kept.  Each removal is logged.

    Returns
    -------
    list of str
        Names of the removed datasets, sorted.
    """
    current = {s.name for s in stages}
    produced = {o for s in stages for o in s.outputs}
    removed: set[str] = set()
    with store.lock():
        for rec_file in sorted((store.path / ".ssbscope" / "stages").glob("*.json")):
            name = rec_file.stem
            if name.startswith("."):
                continue
            rec = store.stage_record(name) or {}
            for o in rec.get("outputs", []):
                if o not in produced and o in store:
                    store.delete(o)
                    removed.add(o)
            if name not in current:
                store.clear_stage(name)
        for n in store.names():
            if n in produced or n in removed:
                continue
            try:
                stage = json.loads(store.read(n).attrs.get("provenance", "{}")).get("stage")
            except (ValueError, AttributeError, OSError, SsbscopeError):
                stage = None
            if stage:
                store.delete(n)
                removed.add(n)
    for n in sorted(removed):
        log.warning("dataset %s: no stage of this experiment produces it any more (an input or "
                    "setting was removed); deleted from the store", n)
    return sorted(removed)


def _run_locked(stages, store, *, raw_dir, work_dir, seed, config, scheduler, quiet, force,
                memory_limit=None, workers=None):
    store.cleanup_tmp()
    raw_dir = Path(raw_dir) if raw_dir is not None else store.path.parent / "raw"
    work_dir = Path(work_dir) if work_dir is not None else store.path / ".ssbscope" / "work"
    raw_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    ordered = order_stages(stages, available=store.names())
    force = set(force)
    producer = {o: s.name for s in ordered for o in s.outputs}
    fps: dict[str, str] = {}
    hashes: dict[str, str] = {}
    ran, skipped, seconds = [], [], {}
    from ssbscope.progress import StageProgress, interactive

    bar = StageProgress(len(ordered), quiet)  # tqdm on a terminal, plain lines when piped
    limit = parse_memory(memory_limit)
    per_process = limit // int(workers) if (limit and workers) else limit
    with _dask_context(scheduler, quiet, workers=workers, memory_limit=per_process):
        for s in ordered:
            upstream = {i: fps.get(producer.get(i, ""), "external") for i in s.inputs}
            fp = _fingerprint(s, seed, upstream)
            rec = store.stage_record(s.name)
            fresh = s.name not in force and rec is not None and rec.get("fingerprint") == fp
            # the store's datasets, listed only for a stage that may be skipped (a walk over
            # every group's zarr.json: ~1.5 % of the tiny demo's CPU when done for every stage)
            have = set(store.names()) if fresh else set()
            done = fresh and all(o in have for o in s.outputs)
            if done:  # integrity against the manifests: names and sizes, sha256 of small datasets
                bad = [p for o in s.outputs for p in store.verify(o, full="auto")]
                if bad:
                    log.warning("stage %s: its stored output fails its checksum manifest (%s%s); "
                                "recomputing", s.name, bad[0], f" and {len(bad) - 1} more" if len(bad) > 1 else "")
                    done = False
            elif fresh:
                log.warning("stage %s: output(s) %s missing from the store; recomputing", s.name,
                            [o for o in s.outputs if o not in have])
            if done and not _inputs_unchanged(rec, hashes):
                log.warning("stage %s: a raw input file changed since it ran; recomputing", s.name)
                done = False
            if done:
                fps[s.name] = _effective(fp, rec.get("inputs"))
                skipped.append(s.name)
                log.info("stage %s: finished earlier, skipped", s.name)
                bar.skipped(s.name)
                continue
            bar.start(s.name)
            store.clear_stage(s.name)
            t0 = time.perf_counter()
            ctx = StageContext(stage=s.name, store=store, raw_dir=raw_dir, work_dir=work_dir,
                               seed=seed, config=config, quiet=quiet,
                               memory_limit_bytes=per_process, n_workers=workers)
            inputs = {i: store.read(i) for i in s.inputs}
            try:
                out = s.func(ctx, inputs, **s.params)
            except SsbscopeError:
                raise
            except Exception as e:
                raise _stage_error(s.name, e) from e
            if not isinstance(out, Mapping) or set(out) != set(s.outputs):
                got = sorted(out) if isinstance(out, Mapping) else type(out).__name__
                raise PipelineError(f"stage {s.name!r} returned {got}, but declares outputs {list(s.outputs)}")
            prov = provenance_record(inputs=ctx._inputs, parameters=s.params, stage=s.name)
            prov["upstream"] = {i: store.provenance(i).get("stage") for i in s.inputs}
            for name in s.outputs:
                pbar = None
                if s.long and not quiet and scheduler is None and not workers and interactive():
                    from dask.diagnostics import ProgressBar

                    pbar = ProgressBar(minimum=2.0)
                    pbar.register()
                try:
                    store.write(name, out[name], provenance=prov)  # lazy results compute here
                except SsbscopeError:
                    raise
                except Exception as e:
                    raise _stage_error(s.name, e) from e
                finally:
                    if pbar is not None:
                        pbar.unregister()
            recorded = list(ctx._inputs)
            store.mark_stage_done(s.name, {"fingerprint": fp, "outputs": list(s.outputs),
                                           "inputs": recorded,
                                           "seconds": round(time.perf_counter() - t0, 3)})
            fps[s.name] = _effective(fp, recorded)
            seconds[s.name] = time.perf_counter() - t0
            ran.append(s.name)
            log.info("stage %s: done in %.1f s", s.name, seconds[s.name])
            bar.done(s.name, seconds[s.name])
    bar.close()
    return RunResult(store=store, ran=tuple(ran), skipped=tuple(skipped), seconds=seconds)
