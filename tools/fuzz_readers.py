#!/usr/bin/env python
"""Fuzz campaign over every ssbscope file parser (issue 14, item 7).

For each target of :mod:`ssbscope.fuzz` (echem text/binary readers, EIS readers, the
``.ssbevt`` event file, the raw HEXITEC stream and calibration table) this feeds random bytes,
truncations and mutations of real seed files for a time budget and counts the outcomes:
``ok`` (a valid result), ``refused`` (an ssbscope.errors exception: the contract), ``bug``
(any other exception) and ``hang`` (a single input running past --per-input-s, run in a
child process watched by a timer). Exit status 1 if any bug or hang was seen.

Usage::

    PYTHONPATH=src python tools/fuzz_readers.py --seconds 60 [--target echem.read/text] [--seed 1]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def _worker(conn, target_name, seed, seconds, folder):
    from ssbscope.fuzz import mutate, random_ops, run_one, targets

    logging.disable(logging.CRITICAL)
    t = targets(slow=True)[target_name]
    rng = random.Random(seed)
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        if rng.random() < 0.1 or not t.seeds:
            data = rng.randbytes(rng.randrange(0, 4096))
        else:
            data = mutate(t.seeds[rng.randrange(len(t.seeds))][1], random_ops(rng))
        conn.send(("start", k, data))
        outcome, detail = run_one(t, data, Path(folder), name=f"in{k % 4}")
        conn.send(("done", k, outcome, detail))
        k += 1
    conn.send(("end",))


def campaign(target_name: str, seconds: float, seed: int, per_input_s: float, out: Path | None):
    counts: Counter = Counter()
    bugs: Counter = Counter()
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        with tempfile.TemporaryDirectory() as folder:
            parent, child = mp.Pipe()
            p = mp.Process(target=_worker, args=(child, target_name, seed, t_end - time.monotonic(), folder))
            p.start()
            last = None
            while True:
                if not parent.poll(per_input_s + 30 if last is None else per_input_s):
                    counts["hang"] += 1
                    if last is not None and out is not None:
                        (out / f"hang_{target_name.replace('/', '_')}_{seed}.bin").write_bytes(last[2])
                    p.kill()
                    break
                msg = parent.recv()
                if msg[0] == "end":
                    break
                if msg[0] == "start":
                    last = msg
                    continue
                counts[msg[2]] += 1
                if msg[2] == "bug":
                    bugs[msg[3].split(":")[0] + ": " + msg[3][:120]] += 1
                    if out is not None:
                        (out / f"bug_{target_name.replace('/', '_')}_{seed}_{msg[1]}.bin").write_bytes(last[2])
                last = None
            p.join(5)
        seed += 1
    return counts, bugs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="time budget per target (s)")
    ap.add_argument("--target", action="append", help="target name (repeatable); default: all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-input-s", type=float, default=20.0, help="an input running longer is a hang")
    ap.add_argument("--save", type=Path, help="folder to save inputs that gave a bug or hang")
    a = ap.parse_args(argv)
    from ssbscope.fuzz import targets

    names = a.target or list(targets(slow=True))
    if a.save:
        a.save.mkdir(parents=True, exist_ok=True)
    bad = 0
    print(f"{'target':28s} {'inputs':>7s} {'ok':>6s} {'refused':>8s} {'bug':>5s} {'hang':>5s}")
    for n in names:
        counts, bugs = campaign(n, a.seconds, a.seed, a.per_input_s, a.save)
        tot = sum(counts.values())
        print(f"{n:28s} {tot:7d} {counts['ok']:6d} {counts['refused']:8d} {counts['bug']:5d} {counts['hang']:5d}")
        for b, c in bugs.most_common(10):
            print(f"    {c:5d} x {b}")
        bad += counts["bug"] + counts["hang"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
