"""Half-cycle segmentation of a current trace (private; used by capacity, cycles, dqdv, ...).

A *half-cycle* is a maximal time span during which the current, whenever it flows, has one
sign: rests (current below the threshold) inside the span are kept in it, so an interrupted
charge is one charge.  Sign convention of ssbscope: current > 0 is charge.

Capacity of a half-cycle: the trapezoid integral of the current between its first and last
sample, plus the last sample's current held until the next sample (sample-and-hold at the
edges: a logged step starts at its first sample and lasts until the next record).  This is
exact when the current switches on sample times (potentiostats record at step changes;
grid simulators hold each value for one interval), unbiased for constant-current
half-cycles whose switches fall between samples, and equals ``I * (t_last - t_first)`` for
a log that is one constant-current step from its first to its last sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssbscope.errors import ParameterError

MAH_PER_AS = 1.0 / 3.6  # 1 mAh = 3.6 A s


@dataclass(frozen=True)
class HalfCycle:
    """One charge (sign +1) or discharge (sign -1) span; sample indices are inclusive."""

    index: int
    sign: int
    start: int
    stop: int
    start_s: float
    end_s: float
    capacity_mAh: float
    tail_mAh: float = 0.0  # last sample's current held until the next sample
    hold_end_s: float = 0.0  # time of the next sample (end of the hold), end_s at the log end

    @property
    def kind(self) -> str:
        return "charge" if self.sign > 0 else "discharge"


def cumulative_mah(t: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Trapezoid running integral of current (A) over time (s), in mAh, starting at 0."""
    q = np.zeros_like(t, dtype=np.float64)
    if t.size > 1:
        q[1:] = np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t)) * MAH_PER_AS
    return q


def noise_sigma(x: np.ndarray) -> float:
    """Robust white-noise std from first differences (MAD / sqrt 2)."""
    if x.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(x))) / np.sqrt(2.0))


def thresholds(i: np.ndarray, current_threshold_A: float | None = None) -> tuple[float, float]:
    """(enter, stay) current thresholds in A for the hysteresis labelling."""
    if current_threshold_A is not None:
        thr = float(current_threshold_A)
        if not (np.isfinite(thr) and thr > 0):
            raise ParameterError("current_threshold_A", current_threshold_A, "must be > 0",
                                 "omit it for the automatic threshold")
        return thr, 0.5 * thr
    a = np.abs(i)
    ref = float(np.percentile(a, 99)) if a.size else 0.0
    if ref == 0.0:
        ref = float(a.max()) if a.size else 0.0
    sig = noise_sigma(i)
    hi = max(0.005 * ref, 5.0 * sig, 1e-12)
    lo = max(0.001 * ref, 3.0 * sig, 0.5e-12)
    return hi, min(lo, hi)


def label_samples(i: np.ndarray, current_threshold_A: float | None = None) -> np.ndarray:
    """Per-sample label in {-1, 0, +1} (discharge, rest, charge) with hysteresis.

    A sample is active when ``|I|`` exceeds the low threshold *and* it belongs to a run of
    same-sign samples that reaches the high threshold somewhere (so CV-hold tails stay in the
    charge while noise in rests does not start one). Single-sample runs are dropped as spikes.
    """
    hi, lo = thresholds(i, current_threshold_A)
    weak = np.where(i > lo, 1, np.where(i < -lo, -1, 0)).astype(np.int8)
    strong = np.abs(i) > hi
    n = i.size
    if n == 0:
        return weak
    change = np.empty(n, dtype=bool)
    change[0] = True
    change[1:] = weak[1:] != weak[:-1]
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, n))
    has_strong = np.maximum.reduceat(strong.astype(np.int8), starts) > 0
    keep = has_strong & (lengths > 1) & (weak[starts] != 0)
    run_keep = np.repeat(keep, lengths)
    return np.where(run_keep, weak, 0).astype(np.int8)


def half_cycles(t: np.ndarray, i: np.ndarray, current_threshold_A: float | None = None,
                labels: np.ndarray | None = None, q_mah: np.ndarray | None = None) -> list[HalfCycle]:
    """Split a (validated) trace into alternating charge/discharge half-cycles."""
    lab = label_samples(i, current_threshold_A) if labels is None else labels
    q = cumulative_mah(t, i) if q_mah is None else q_mah
    act = np.flatnonzero(lab != 0)
    out: list[HalfCycle] = []
    if act.size == 0:
        return out
    s = lab[act]
    brk = np.flatnonzero(s[1:] != s[:-1]) + 1
    firsts = np.concatenate(([0], brk))
    lasts = np.concatenate((brk - 1, [act.size - 1]))
    for k, (f, l) in enumerate(zip(firsts, lasts)):
        a, b = int(act[f]), int(act[l])
        sign = int(s[f])
        tail = abs(i[b]) * (t[b + 1] - t[b]) * MAH_PER_AS if b + 1 < t.size else 0.0
        cap = sign * (q[b] - q[a]) + tail
        out.append(HalfCycle(index=k, sign=sign, start=a, stop=b, start_s=float(t[a]),
                             end_s=float(t[b]), capacity_mAh=float(cap), tail_mAh=float(tail),
                             hold_end_s=float(t[b + 1]) if b + 1 < t.size else float(t[b])))
    return out
