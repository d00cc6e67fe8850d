"""Short-circuit events in a galvanostatic log: hard and soft shorts.

Signatures (002_3ee4edf529433f9c, Fig. 2B and Fig. S4 description):

* **hard short** – while current flows the voltage collapses toward 0 V and never recovers.
  Detected on ``|V|``, relative to the recent level of the same current direction, so a
  Li | SE | Li symmetric cell (tens of mV) and a full cell (3–4 V) are judged alike:
  the (5-sample median-smoothed) ``|V|`` falls below ``hard_fraction`` × the maximum of the
  previous samples of the same current sign (``ref_points`` samples or ``window_s``,
  whichever is more), and no later sample (current flowing or not) climbs back above
  ``recover_fraction`` × that level.  The onset is the steepest single-sample fall of
  ``|V|`` in the window before the collapse.
* **soft short** – under constant-current charge the voltage stops rising and fluctuates below
  the cut-off while current still flows, possibly recovering.  Only the constant-current part
  of charge half-cycles is examined (``|I|`` >= ``cc_fraction`` × the half-cycle's current), so
  CV holds (current decays), rests and relaxations (no current) and the end of a discharge
  (negative current) cannot trigger it.  Two signs, either suffices:

  - *fluctuation*: the voltage minus its running median (window ``window_s``) has a running
    median absolute value above ``fluct_factor`` × the baseline noise (and above
    ``min_fluct_mV``).  A monotonic curve, however steep, passes a median filter unchanged,
    so a normal charge leaves only noise;
  - *sag*: the running-median voltage falls more than ``min_drop_mV`` (and
    ``drop_factor`` × its own noise) below its running maximum; a normal CC charge never
    loses voltage.

  The first ``settle_fraction`` (and at least ``settle_s``) of each constant-current span is
  not judged (nucleation overshoot after a current step).  Likewise the hard-short test
  ignores the first ``settle_s`` of each half-cycle (the polarisation of a symmetric cell
  relaxes through 0 V after every reversal), though the onset is traced back into it.

**Short or slowly improving cell?** A stall of the charge voltage also happens without a short
(side reactions of a cell still forming, whose Coulombic efficiency climbs cycle after cycle).
Two tests tell them apart (``ce_check``):

* *current direction and progress*: a candidate whose voltage kept rising through it at
  ≥ half the pre-event pace of the charge is not a stall: dropped;
* *CE trend*: with ≥ 4 complete cycles in the log, a short draws charge that never comes back,
  so the CE of the cycle holding the event must fall below the trend of the other cycles
  (robust line through their CE vs cycle number, leave-one-out) by more than
  ``max(ce_tolerance, 3 × MAD of their residuals)``. A candidate in a cycle whose CE is on or
  above the trend (a steadily improving cell) is dropped and logged. Logs of < 4 cycles (a
  single charge, as in 002_) cannot show a trend: the voltage signature alone decides.

False-alarm rate measured on real long cycling logs without shorts (``../shared/realdata``:
BioLogic GCPL 5 cycles 127 h and MB 21 h, Maccor 64 h, Neware 144 h, Novonix formation 17 h,
Arbin and short CP logs; 374 h and 38 charge half-cycles in all): **0 events** raised, with
and without ``ce_check`` (upper 95 % bound ≈ 3/38 ≈ 8 % per charge half-cycle, rule of three).

Baseline noise is the MAD of first differences (per block of samples, lower quartile of the
blocks, so a short filling most of the log does not inflate it) over every constant-current
sample (charge and discharge) of the log.  The soft-short onset is refined by a CUSUM change
point of the absolute departure from the line the voltage followed before (fitted on the
window before the first flagged sample); a recovery ends the event where the final steady
rise of the voltage began.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from ssbscope.echem._checks import check_echem
from ssbscope.echem._segments import half_cycles, label_samples
from ssbscope.errors import ParameterError

__all__ = ["ShortEvent", "detect_shorts"]

log = logging.getLogger(__name__)

_MAD_GAUSS = 0.6745  # median |x| of a unit normal


@dataclass(frozen=True)
class ShortEvent:
    """A short-circuit event.

    Attributes
    ----------
    kind : str
        ``"soft"`` or ``"hard"``.
    onset_s : float
        Onset time (s since the start of the log).
    end_s : float or None
        Time the cell recovered (s), ``None`` if it did not within the log.
    evidence : dict of str to float
        Numbers behind the call, units in the keys (e.g. ``voltage_drop_mV``,
        ``fluctuation_std_mV``, ``baseline_noise_mV``, ``duration_s``).
    """

    kind: str
    onset_s: float
    end_s: float | None
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "onset_s": self.onset_s, "end_s": self.end_s,
                "evidence": dict(self.evidence)}


def _odd(n: int) -> int:
    n = max(int(n), 3)
    return n if n % 2 else n + 1


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, stop) index pairs of True runs."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), stops.tolist()))


def detect_shorts(df: pd.DataFrame, *, hard_fraction: float = 0.2, recover_fraction: float = 0.5,
                  ref_points: int = 20, min_points: int = 3, window_s: float = 300.0,
                  fluct_factor: float = 4.0, min_fluct_mV: float = 1.0, drop_factor: float = 8.0,
                  min_drop_mV: float = 5.0, cc_fraction: float = 0.9, settle_fraction: float = 0.05,
                  settle_s: float = 300.0, current_threshold_A: float | None = None,
                  ce_check: bool = True, ce_tolerance: float = 0.02) -> list[ShortEvent]:
    """Find hard and soft shorts in a galvanostatic log (002_3ee4edf529433f9c Fig. 2B, S4).

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (``time_s``, ``voltage_V``, ``current_A`` > 0 on charge); not modified.
    hard_fraction : float, default 0.2
        Hard short when smoothed ``|V|`` < this × the recent same-direction level.
    recover_fraction : float, default 0.5
        ... and no later sample climbs back above this × that level.
    ref_points : int, default 20
        Minimum number of samples in the recent-level maximum (at least ``window_s`` worth).
    min_points : int, default 3
        Samples needed after a hard-short onset (a one-sample dip is not a short).
    window_s : float, default 300
        Running-median window (s) for the soft-short measures (at least 7 samples).
    fluct_factor : float, default 4
        Fluctuation threshold in units of the baseline noise.
    min_fluct_mV : float, default 1
        Absolute floor of the fluctuation threshold (std-equivalent, mV).
    drop_factor : float, default 8
        Sag threshold in units of the smoothed-voltage noise.
    min_drop_mV : float, default 5
        Absolute floor of the sag threshold (mV).
    cc_fraction : float, default 0.9
        A charge sample is constant-current when ``|I|`` >= this × the half-cycle's
        95th-percentile current.
    settle_fraction : float, default 0.05
        Fraction of each charge's constant-current span not judged for soft shorts.
    settle_s : float, default 300
        Time after the start of each constant-current span (soft) and of each half-cycle
        (hard: reference level and candidates) not judged: nucleation overshoot after a
        current step, polarisation relaxing through 0 V after a reversal.
    current_threshold_A : float, optional
        Rest threshold (see :func:`ssbscope.echem.add_capacity`).
    ce_check : bool, default True
        Drop soft-short candidates that a slowly improving cell explains (voltage still rising
        through the event; the cycle's CE on or above the CE trend of the others); see the
        module docstring.
    ce_tolerance : float, default 0.02
        Minimum CE deficit below the trend (absolute) that corroborates a soft short.

    Returns
    -------
    list of ShortEvent
        Sorted by onset; ``kind`` is "hard" or "soft".

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = np.arange(0.0, 36000.0, 30.0)
    >>> v = np.where(t < 20000, 3.6 + 0.5 * t / 36000, 0.02)
    >>> df = pd.DataFrame({"time_s": t, "voltage_V": v, "current_A": 1e-3})
    >>> [(e.kind, e.onset_s) for e in detect_shorts(df)]
    [('hard', 20010.0)]
    """
    t, v, i = check_echem(df)
    for name, val, lo, hi in (("hard_fraction", hard_fraction, 0.0, 1.0),
                              ("recover_fraction", recover_fraction, 0.0, 1.0),
                              ("cc_fraction", cc_fraction, 0.0, 1.0)):
        if not (lo < float(val) < hi):
            raise ParameterError(name, val, f"must be in ({lo}, {hi})", "use the default")
    if not (0.0 <= float(settle_fraction) < 1.0):
        raise ParameterError("settle_fraction", settle_fraction, "must be in [0, 1)",
                             "use the default 0.05")
    if recover_fraction < hard_fraction:
        raise ParameterError("recover_fraction", recover_fraction, "must be >= hard_fraction",
                             "use e.g. hard_fraction=0.2, recover_fraction=0.5")
    if not (np.isfinite(settle_s) and settle_s >= 0):
        raise ParameterError("settle_s", settle_s, "must be >= 0", "use the default 300 s")
    for name, val in (("window_s", window_s), ("fluct_factor", fluct_factor),
                      ("drop_factor", drop_factor)):
        if not (np.isfinite(val) and val > 0):
            raise ParameterError(name, val, "must be > 0", "use the default")
    for name, val in (("ref_points", ref_points), ("min_points", min_points)):
        if int(val) < 1:
            raise ParameterError(name, val, "must be >= 1", "use the default")

    lab = label_samples(i, current_threshold_A)
    events: list[ShortEvent] = []
    dt = np.diff(t)
    dt_med = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 1.0
    n_ref = max(int(ref_points), int(round(window_s / dt_med)))
    hcs = half_cycles(t, i, current_threshold_A, labels=lab)
    hard = _hard_short(t, v, lab, hcs, hard_fraction, recover_fraction, n_ref, int(min_points),
                       float(settle_s))
    if hard is not None:
        events.append(hard)
    soft = _soft_shorts(t, v, i, lab, current_threshold_A, window_s, fluct_factor,
                        min_fluct_mV, drop_factor, min_drop_mV, cc_fraction, settle_fraction,
                        float(settle_s), hard.onset_s if hard is not None else None)
    if ce_check and soft:
        soft = _vet_soft(soft, t, i, hcs, float(ce_tolerance))
    events.extend(soft)
    events.sort(key=lambda e: e.onset_s)
    for e in events:
        log.info("%s short at %.1f s: %s", e.kind, e.onset_s, e.evidence)
    return events


def _hard_short(t, v, lab, hcs, hard_fraction, recover_fraction, ref_points, min_points, settle_s):
    n = t.size
    if n < min_points + 3:
        return None
    lv = median_filter(np.abs(v), size=5, mode="nearest")
    # suffix max over every later sample: "does not recover"
    sufmax = np.maximum.accumulate(lv[::-1])[::-1]
    # samples past the transient after a current reversal (polarisation relaxing through 0 V)
    settled = np.zeros(n, dtype=bool)
    for h in hcs:
        sl = slice(h.start, h.stop + 1)
        settled[sl] = t[sl] - h.start_s >= settle_s
    best = None
    for sign in (1, -1):
        idx = np.flatnonzero((lab == sign) & settled)
        if idx.size < 4:
            continue
        ref = (pd.Series(lv[idx]).rolling(ref_points, min_periods=3).max().shift(1)).to_numpy()
        ok = np.isfinite(ref) & (ref > 0)
        coll = ok & (lv[idx] < hard_fraction * ref) & (sufmax[idx] < recover_fraction * np.where(ok, ref, 0))
        coll &= (n - idx) >= min_points
        hits = np.flatnonzero(coll)
        if hits.size == 0:
            continue
        p = int(hits[0])
        k = int(idx[p])
        if best is None or k < best[0]:
            best = (k, float(ref[p]), sign)
    if best is None:
        return None
    k, ref_level, sign = best
    # the fall began at the steepest single-sample fall of |V| among the contiguous
    # same-direction samples of the last window before the collapse was confirmed
    j0 = k
    while j0 > 0 and lab[j0 - 1] == sign and k - j0 < ref_points:
        j0 -= 1
    if k > j0:
        falls = lv[j0:k] - lv[j0 + 1:k + 1]  # fall into sample j0+1 ... k
        onset = j0 + 1 + int(np.argmax(falls))
    else:
        onset = k
    after = lv[k:]
    return ShortEvent(
        kind="hard", onset_s=float(t[onset]), end_s=None,
        evidence={
            "voltage_before_V": ref_level,
            "voltage_after_V": float(np.median(after)),
            "voltage_drop_V": float(ref_level - np.median(after)),
            "collapse_ratio": float(np.median(after) / ref_level),
            "duration_s": float(t[-1] - t[onset]),
        })


def _changepoint(tt, vv, lo, hi, span, default):
    """Onset in [lo, hi]: CUSUM change point of the voltage's departure from its earlier trend.

    A line is fitted to the ``span`` samples before ``lo`` (the charge as it was), the absolute
    departure ``d = |line - v|`` is formed on [lo, hi] (it grows with a sag, a stop in the
    rise and a jump in fluctuation alike), and the onset is the split that maximises the
    mean-shift CUSUM statistic (argmin of the running sum of ``d - mean d``).
    """
    a0 = max(0, lo - span)
    if lo - a0 < 5 or hi - lo < 3:
        return default
    p = np.polyfit(tt[a0:lo] - tt[lo], vv[a0:lo], 1)
    d = np.abs(np.polyval(p, tt[lo:hi + 1] - tt[lo]) - vv[lo:hi + 1])
    c = np.concatenate(([0.0], np.cumsum(d - d.mean())))
    return lo + int(np.argmin(c[:-1]))


def _soft_shorts(t, v, i, lab, thr, window_s, fluct_factor, min_fluct_mV, drop_factor,
                 min_drop_mV, cc_fraction, settle_fraction, settle_s, hard_onset_s):
    hcs = half_cycles(t, i, thr, labels=lab)
    dt = np.diff(t)
    dt_med = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 1.0
    w = _odd(max(7, round(window_s / dt_med)))
    segs = []  # (half-cycle, start, stop) of constant-current runs
    for hc in hcs:
        sl = slice(hc.start, hc.stop + 1)
        a = np.abs(i[sl])
        act = lab[sl] == hc.sign
        if not act.any():
            continue
        level = float(np.percentile(a[act], 95))
        cc = act & (a >= cc_fraction * level)
        for s0, s1 in _runs(cc):
            if s1 - s0 + 1 >= w:
                segs.append((hc, hc.start + s0, hc.start + s1))
    if not segs:
        return []
    per = []
    for hc, a, b in segs:
        vv = v[a:b + 1]
        trend = median_filter(vv, size=w, mode="nearest")
        r = vv - trend
        f = median_filter(np.abs(r), size=w, mode="nearest")
        per.append((hc, a, b, vv, trend, r, f))
    # baseline noise: MAD of first differences per block of samples, lower quartile over the
    # blocks (robust when a soft short fills most of the log)
    blk = max(w, 16)
    est = []
    for p in per:
        d = np.abs(np.diff(p[3]))
        for k0 in range(0, d.size - blk + 1, blk):
            est.append(np.median(d[k0:k0 + blk]))
    if len(est) >= 4:
        sigma0 = float(1.4826 * np.percentile(est, 25) / np.sqrt(2.0))
    else:
        d = np.concatenate([np.abs(np.diff(p[3])) for p in per])
        sigma0 = float(1.4826 * np.median(d) / np.sqrt(2.0))
    thr_f = max(fluct_factor * sigma0, min_fluct_mV * 1e-3) * _MAD_GAUSS
    thr_r = max(fluct_factor * sigma0, min_fluct_mV * 1e-3)
    sig_sm = sigma0 * 1.2533 / np.sqrt(w)
    thr_d = max(drop_factor * sig_sm, min_drop_mV * 1e-3)
    events = []
    for hc, a, b, vv, trend, r, f in per:
        if hc.sign < 0:
            continue
        n = vv.size
        settle = int(np.ceil(settle_fraction * n))
        tt_seg = t[a:b + 1]
        settle = max(settle, int(np.searchsorted(tt_seg, tt_seg[0] + settle_s)))
        if settle >= n - 3:
            continue
        judged = np.zeros(n, dtype=bool)
        judged[settle:] = True
        if hard_onset_s is not None:
            judged &= t[a:b + 1] < hard_onset_s
        flag_f = (f > thr_f) & judged
        cmax = np.maximum.accumulate(np.where(judged, trend, -np.inf))
        dd = cmax - trend
        flag_d = (dd > thr_d) & judged
        flag = flag_f | flag_d
        # rate of rise of the charge before anything was flagged (V/s)
        first = int(np.argmax(flag)) if flag.any() else n
        pre = slice(settle, max(settle + 2, first))
        tp = t[a:b + 1][pre]
        pre_slope = (max(0.0, float(np.polyfit(tp - tp[0], trend[pre], 1)[0]))
                     if tp.size >= 3 else 0.0)
        # merge runs unless the cell recovered in between
        runs = _runs(flag)
        merged: list[list[int]] = []
        for s0, s1 in runs:
            if merged:
                p0, p1 = merged[-1]
                # recovered only if the voltage climbed above anything seen before and during
                # the short (a plateau's own fluctuation is not a recovery)
                level = np.max(trend[settle:p1 + 1])
                recovered_gap = False
                if s0 - p1 > 2 * w:
                    # ... and the charge rose again through the gap at >= half its old pace
                    gap = slice(p1 + 1, s0)
                    rise = trend[s0 - 1] - trend[p1 + 1]
                    tg = t[a + s0 - 1] - t[a + p1 + 1]
                    recovered_gap = (np.max(trend[gap]) > level + thr_d and rise > thr_d
                                     and rise >= 0.5 * pre_slope * tg)
                if s0 - p1 <= w or not recovered_gap:
                    merged[-1][1] = s1
                    continue
            merged.append([s0, s1])
        for s0, s1 in merged:
            if s1 - s0 + 1 < max(3, w // 2):
                continue
            cands = []
            if flag_f[s0:s1 + 1].any():
                lo = max(settle, s0 - w)
                big = np.flatnonzero(np.abs(r[lo:s1 + 1]) > thr_r)
                if big.size:
                    cands.append(lo + int(big[0]))
            if flag_d[s0:s1 + 1].any():
                first_d = s0 + int(np.flatnonzero(flag_d[s0:s1 + 1])[0])
                seg = trend[settle:first_d + 1]
                # the last time the running maximum was reached: the voltage stopped rising
                peak = settle + int(np.flatnonzero(seg >= seg.max())[-1])
                cands.append(peak)
            if not cands:
                continue
            on = min(cands)
            on = _changepoint(t[a:b + 1], vv, max(settle, on - w), min(n - 2, on + w), w,
                              default=on)
            recovered = (n - 1 - s1) >= w
            if recovered:
                # the flags clear once the voltage tops the short's level; the recovery began
                # where the final steady rise (a window rising at >= half the pre-short pace)
                # started
                tt_seg = t[a:b + 1]
                j = s1
                while j - w > on:
                    rise = trend[j] - trend[j - w]
                    if rise < max(0.5 * pre_slope * (tt_seg[j] - tt_seg[j - w]), 2.0 * sig_sm):
                        break
                    j -= 1
                s1 = j
            stop = a + s1
            ev_sl = slice(on, s1 + 1)
            events.append(ShortEvent(
                kind="soft", onset_s=float(t[a + on]),
                end_s=float(t[stop]) if recovered else None,
                evidence={
                    "onset_voltage_V": float(trend[on]),
                    "voltage_drop_mV": float(1e3 * (np.max(trend[settle:on + 1]) - np.min(vv[ev_sl]))),
                    "fluctuation_std_mV": float(1e3 * np.std(r[ev_sl])),
                    "baseline_noise_mV": float(1e3 * sigma0),
                    "voltage_rise_mV": float(1e3 * (trend[s1] - trend[on])),
                    "mean_current_A": float(np.mean(i[a + on:stop + 1])),
                    "pre_slope_mV_per_s": float(1e3 * pre_slope),
                    "duration_s": float(t[stop] - t[a + on]),
                }))
    return events


def _cycle_ce(t, i, hcs) -> list[tuple[float, float, float]]:
    """(charge start s, discharge end s, CE) of each charge half-cycle followed by a discharge."""
    out = []
    for a, b in zip(hcs[:-1], hcs[1:]):
        if a.sign > 0 and b.sign < 0 and a.capacity_mAh > 0:
            out.append((a.start_s, b.end_s, abs(b.capacity_mAh) / abs(a.capacity_mAh)))
    return out


def _vet_soft(events, t, i, hcs, ce_tol):
    """Drop soft-short candidates explained by a still-rising charge or an improving CE trend."""
    kept = []
    cyc = _cycle_ce(t, i, hcs)
    ce = np.array([c[2] for c in cyc], dtype=float)
    for e in events:
        ev = dict(e.evidence)
        rise_mV = ev.get("voltage_rise_mV", 0.0)
        pace = ev.get("pre_slope_mV_per_s", 0.0)
        if pace > 0 and rise_mV >= 0.5 * pace * ev.get("duration_s", 0.0) and \
                rise_mV > ev.get("voltage_drop_mV", 0.0):
            log.info("soft-short candidate at %.0f s dropped: the voltage kept rising through it "
                     "(%.1f mV at >= half the charge's pace): not a stall", e.onset_s, rise_mV)
            continue
        if ev.get("mean_current_A", 1.0) <= 0:
            log.info("soft-short candidate at %.0f s dropped: current not in the charge direction",
                     e.onset_s)
            continue
        k = next((j for j, c in enumerate(cyc) if c[0] <= e.onset_s <= c[1]), None)
        if k is not None and ce.size >= 4:
            others = np.delete(np.arange(ce.size), k)
            x, y = others.astype(float), ce[others]
            from scipy.stats import theilslopes

            slope, icpt, _, _ = theilslopes(y, x)
            res = y - (icpt + slope * x)
            mad = 1.4826 * float(np.median(np.abs(res - np.median(res))))
            pred = icpt + slope * k
            deficit = pred - ce[k]
            ev.update(coulombic_efficiency=float(ce[k]), ce_trend=float(pred),
                      ce_deficit=float(deficit))
            if deficit <= max(ce_tol, 3.0 * mad):
                log.info("soft-short candidate at %.0f s dropped: the cycle's CE %.3f is on the "
                         "trend of the other cycles (%.3f): a slowly improving cell, not a short",
                         e.onset_s, ce[k], pred)
                continue
        kept.append(ShortEvent(kind=e.kind, onset_s=e.onset_s, end_s=e.end_s, evidence=ev))
    return kept
