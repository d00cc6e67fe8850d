"""Progress a person can follow, in a terminal and in a log file.

On a terminal (stderr is a TTY) the pipeline shows tqdm bars.  Piped to a file or in CI it
writes one plain line per stage start and end instead, with the stage's time, and no carriage
returns or escape sequences::

    [ssbscope] stage 3/12 tomo.recon.s000: start
    [ssbscope] stage 3/12 tomo.recon.s000: done in 12.3 s
    [ssbscope] stage 4/12 echem.analyse: finished earlier, skipped

Loops inside a stage (:meth:`ssbscope.pipeline.StageContext.progress`) and task graphs a
stage computes itself (:meth:`ssbscope.pipeline.StageContext.compute`, e.g. the contour study's
one task per contour) then report a plain ``k/N`` line at most every :data:`INNER_INTERVAL_S`
seconds.
"""

from __future__ import annotations

import sys
import time

__all__ = ["StageProgress", "is_terminal", "interactive", "iterate", "compute", "PREFIX",
           "INNER_INTERVAL_S"]

PREFIX = "[ssbscope]"
#: Smallest interval between two plain inner-progress lines (s).
INNER_INTERVAL_S = 10.0


def is_terminal(stream=None) -> bool:
    """Whether ``stream`` (default: stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def interactive() -> bool:
    """Whether both stdout and stderr are terminals (dask's progress bar writes to stdout)."""
    return is_terminal(sys.stderr) and is_terminal(sys.stdout)


def _say(stream, text: str) -> None:
    stream.write(f"{PREFIX} {text}\n")
    stream.flush()


class StageProgress:
    """Progress over a run's stages: a tqdm bar on a terminal, plain lines elsewhere.

    Parameters
    ----------
    total : int
        Number of stages.
    quiet : bool
        No output at all.
    stream : file, optional
        Where to write (default: stderr, looked up when created).
    """

    def __init__(self, total: int, quiet: bool = False, stream=None):
        self.total = int(total)
        self.quiet = quiet
        self.stream = sys.stderr if stream is None else stream
        self.tty = is_terminal(self.stream)
        self.k = 0
        self.bar = None
        if not quiet and self.tty:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc="ssbscope", unit="stage", file=self.stream)

    def _tag(self, name: str) -> str:
        return f"stage {self.k}/{self.total} {name}"

    def skipped(self, name: str) -> None:
        """A stage found finished by an earlier run."""
        self.k += 1
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"{name} (done)")
            self.bar.update(1)
        else:
            _say(self.stream, f"{self._tag(name)}: finished earlier, skipped")

    def start(self, name: str) -> None:
        """A stage starts computing."""
        self.k += 1
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(name)
        else:
            _say(self.stream, f"{self._tag(name)}: start")

    def done(self, name: str, seconds: float) -> None:
        """The stage started last finished after ``seconds``."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(1)
        else:
            _say(self.stream, f"{self._tag(name)}: done in {seconds:.1f} s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def iterate(iterable, desc: str, total: int | None = None, quiet: bool = False, stream=None):
    """Wrap a loop inside a stage: a tqdm bar on a terminal; elsewhere a plain
    ``desc: k/N`` line at most every :data:`INNER_INTERVAL_S` seconds (and at the end)."""
    if quiet:
        return iterable
    stream = sys.stderr if stream is None else stream
    if is_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=False, file=stream)
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    return _plain(iterable, desc, total, stream)


def _plain(iterable, desc, total, stream):
    last = time.monotonic()
    n = 0
    of = f"/{total}" if total else ""
    for item in iterable:
        yield item
        n += 1
        now = time.monotonic()
        if now - last >= INNER_INTERVAL_S:
            _say(stream, f"{desc}: {n}{of}")
            last = now


def compute(delayeds, desc: str, quiet: bool = False, stream=None):
    """``dask.compute(*delayeds)`` with progress over the finished delayeds.

    A tqdm bar on a terminal; elsewhere a plain ``desc: k/N`` line at most every
    :data:`INNER_INTERVAL_S` seconds (k counts finished distinct delayeds, N their number:
    equal pure tasks are one).  On the local schedulers the count comes from a
    :class:`dask.callbacks.Callback`; with a default ``dask.distributed`` client the delayeds
    are submitted as futures and counted as they complete.

    Parameters
    ----------
    delayeds : sequence of dask.delayed.Delayed
        The tasks, results returned in this order.
    desc : str
        Label of the progress lines.
    quiet : bool
        No output (plain ``dask.compute``).
    stream : file, optional
        Where to write (default: stderr).

    Returns
    -------
    tuple
        The computed values, one per delayed.
    """
    import dask

    delayeds = list(delayeds)
    if quiet or not delayeds:
        return dask.compute(*delayeds)
    stream = sys.stderr if stream is None else stream
    keys = {d.key for d in delayeds}
    tick = _Ticker(desc, len(keys), stream)
    try:
        client = _default_client()
        if client is not None:
            from distributed import as_completed

            futures = client.compute(delayeds)
            seen = set()
            for f in as_completed(futures):
                if f.key not in seen:
                    seen.add(f.key)
                    tick.update()
            return tuple(client.gather(futures))
        from dask.callbacks import Callback

        def _posttask(key, result, dsk, state, worker_id):
            if key in keys:
                tick.update()

        with Callback(posttask=_posttask):
            return dask.compute(*delayeds)
    finally:
        tick.close()


def _default_client():
    """The dask.distributed client dask.compute would use now, or None (local schedulers)."""
    try:
        from dask.base import get_scheduler
        from distributed import Client
    except ImportError:
        return None
    sched = get_scheduler()
    owner = getattr(sched, "__self__", None)
    return owner if isinstance(owner, Client) else None


class _Ticker:
    """Counter of finished units: tqdm on a terminal, throttled plain lines elsewhere."""

    def __init__(self, desc: str, total: int, stream):
        import threading

        self.desc, self.total, self.stream = desc, int(total), stream
        self.n = 0
        self.last = time.monotonic()
        self.lock = threading.Lock()
        self.bar = None
        if is_terminal(stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=desc, leave=False, file=stream)

    def update(self) -> None:
        with self.lock:  # dask's threads call this concurrently
            self.n += 1
            if self.bar is not None:
                self.bar.update(1)
                return
            now = time.monotonic()
            if now - self.last >= INNER_INTERVAL_S:
                _say(self.stream, f"{self.desc}: {self.n}/{self.total}")
                self.last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
