"""Synthetic galvanostatic logs with analytic ground truth for the echem analysis tests.

Independent of ssbscope: phases are defined in continuous time, capacities are integrated
analytically, and the log is the model sampled on a time grid (with seeded noise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

V_MAX = 4.3
R_OHM = 20.0


def ocv(x):
    x = np.clip(x, 0.0, 1.0)
    return 3.55 + 0.55 * x + 0.04 * np.log((x + 0.01) / (1.01 - x))


class _Builder:
    """Piecewise model: each phase maps local time (s) -> (V, I)."""

    def __init__(self):
        self.phases = []  # (t0, t1, func)
        self.t = 0.0

    def add(self, dur, func):
        self.phases.append((self.t, self.t + dur, func))
        self.t += dur

    def sample(self, t):
        v = np.empty_like(t)
        i = np.empty_like(t)
        for k, (t0, t1, f) in enumerate(self.phases):
            last = k == len(self.phases) - 1
            m = (t >= t0) & ((t < t1) | (last & (t <= t1)))
            if m.any():
                v[m], i[m] = f(t[m] - t0)
        return v, i


def full_cell_log(*, n_cycles=2, ce=(0.95, 0.99), current_A=1e-3, cap_mAh=1.0, dt_s=10.0,
                  cv_tau_s=600.0, cv_hold_s=1800.0, rest_s=600.0, noise_mV=1.0, noise_A=0.0,
                  offset_s=0.0, leading_discharge_s=0.0, trailing_charge=False, seed=0,
                  align=True):
    """CC-CV charge / rest / CC discharge / rest cycles of an NMC-like full cell.

    Returns (df, truth) with truth a dict: ``charge_mAh``, ``discharge_mAh``, ``ce`` lists,
    ``phases`` list of (name, t0, t1).
    """
    q_as = cap_mAh * 3.6
    b = _Builder()
    truth = {"charge_mAh": [], "discharge_mAh": [], "ce": [], "phases": []}

    def rnd(d):
        return float(np.round(d / dt_s) * dt_s) if align else float(d)

    def rest_phase(v_from, v_to, dur, tau=120.0):
        b.add(dur, lambda tt, a=v_from, c=v_to: (c + (a - c) * np.exp(-tt / tau), np.zeros_like(tt)))

    x = 0.02
    b.add(rnd(rest_s + offset_s), lambda tt, x0=x: (np.full_like(tt, ocv(x0)), np.zeros_like(tt)))
    truth["phases"].append(("rest", 0.0, b.t))
    if leading_discharge_s > 0:
        d = rnd(leading_discharge_s)
        b.add(d, lambda tt, x0=x: (ocv(x0) - R_OHM * current_A - 0.01 * tt / d, np.full_like(tt, -current_A)))
        truth["phases"].append(("discharge", b.t - d, b.t))
        rest_phase(ocv(x) - 0.01, ocv(x), rnd(rest_s))
    for c in range(n_cycles + (1 if trailing_charge else 0)):
        # CC charge until ocv + IR reaches V_MAX
        xs = np.linspace(x, 1.0, 20001)
        hit = xs[np.argmax(ocv(xs) + R_OHM * current_A >= V_MAX)]
        t_cc = rnd((hit - x) * q_as / current_A)
        t0 = b.t
        b.add(t_cc, lambda tt, x0=x: (ocv(x0 + current_A * tt / q_as) + R_OHM * current_A,
                                      np.full_like(tt, current_A)))
        q_cc = current_A * t_cc
        x += q_cc / q_as
        hold = rnd(cv_hold_s)
        b.add(hold, lambda tt: (np.full_like(tt, V_MAX), current_A * np.exp(-tt / cv_tau_s)))
        q_cv = current_A * cv_tau_s * (1 - np.exp(-hold / cv_tau_s))
        x += q_cv / q_as
        truth["phases"].append(("charge", t0, b.t))
        qc = (q_cc + q_cv) / 3.6
        truth["charge_mAh"].append(qc)
        rest_phase(V_MAX, ocv(x), rnd(rest_s))
        if c >= n_cycles:
            break
        eff = ce[c % len(ce)]
        qd_as = eff * qc * 3.6
        t_d = qd_as / current_A
        if align:
            t_d = rnd(t_d)
            qd_as = current_A * t_d
        t0 = b.t
        b.add(t_d, lambda tt, td=t_d: (ocv(1.0 - 0.999 * tt / td) - R_OHM * current_A,
                                       np.full_like(tt, -current_A)))
        x -= qd_as / q_as
        truth["phases"].append(("discharge", t0, b.t))
        truth["discharge_mAh"].append(qd_as / 3.6)
        truth["ce"].append(qd_as / 3.6 / qc)
        rest_phase(ocv(0.001), ocv(max(x, 0.02)), rnd(rest_s))
    t = np.arange(0.0, b.t + 0.5 * dt_s, dt_s) if align else np.arange(0.0, b.t, dt_s)
    v, i = b.sample(t)
    rng = np.random.default_rng(seed)
    v = v + rng.normal(0.0, noise_mV * 1e-3, t.size)
    i = i + rng.normal(0.0, noise_A, t.size) if noise_A else i
    return pd.DataFrame({"time_s": t, "voltage_V": v, "current_A": i}), truth


def charge_with_short(kind, *, onset_s=15000.0, recover_s=None, dt_s=10.0, noise_mV=1.0,
                      fluct_mV=15.0, current_A=1e-3, duration_s=30000.0, seed=1, style="sag"):
    """One CC charge (then CV hold, rest) with a soft or hard short (or none: kind='normal').

    Soft: from ``onset_s`` the voltage stops rising and fluctuates (AR(1) noise of std
    ``fluct_mV`` plus sudden sags) around the onset level; optionally recovers at
    ``recover_s`` (voltage resumes its rise). ``style="plateau"``: zero-mean fluctuation
    around the onset level instead of sags below it. Hard: from ``onset_s`` the voltage decays to
    ~20 mV within ~20 s and stays there (current keeps flowing).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s + 0.5 * dt_s, dt_s)
    q_as = current_A * duration_s * 1.15 / 3.6 * 3.6  # cell capacity: charge reaches ~87 %
    x = 0.02 + current_A * t / q_as
    v = ocv(x) + R_OHM * current_A
    if kind == "soft":
        x_on = 0.02 + current_A * onset_s / q_as
        v_on = ocv(x_on) + R_OHM * current_A
        m = t >= onset_s
        if recover_s is not None:
            m &= t < recover_s
        n = int(m.sum())
        ar = np.zeros(n)
        e = rng.normal(0.0, fluct_mV * 1e-3 * np.sqrt(1 - 0.8 ** 2), n)
        for k in range(1, n):
            ar[k] = 0.8 * ar[k - 1] + e[k]
        sags = np.zeros(n)
        for s in rng.choice(n, size=max(1, n // 200), replace=False):
            sags[s:s + 5] -= 3 * fluct_mV * 1e-3
        v = v.copy()
        if style == "sag":
            v[m] = v_on - np.abs(ar) - 0.5 * fluct_mV * 1e-3 + sags
        else:  # "plateau": flat at the onset level with zero-mean fluctuation
            v[m] = v_on + ar
        if recover_s is not None:
            # Faradaic charge went partly into the short: resume from the onset level
            after = t >= recover_s
            x_after = x_on + current_A * (t[after] - recover_s) / q_as
            v[after] = ocv(x_after) + R_OHM * current_A
    elif kind == "hard":
        m = t >= onset_s
        v = v.copy()
        v[m] = 0.02 + (v[m][0] - 0.02) * np.exp(-(t[m] - onset_s) / 20.0)
    v = np.minimum(v, V_MAX)
    v = v + rng.normal(0.0, noise_mV * 1e-3, t.size)
    return pd.DataFrame({"time_s": t, "voltage_V": v, "current_A": np.full(t.size, current_A)})


def ccd_log(*, area_cm2=0.785, critical_step=5, n_steps=7, step_ma_cm2=0.5, strip_ma_cm2=0.2,
            cap_mah_cm2=0.2, dt_s=2.0, noise_mV=0.2, drop_mV=6.0, r_area_ohm_cm2=15.0,
            rest_s=60.0, flip=False, seed=2):
    """Stepped-plating critical-current protocol on a Li | SE | Li cell (003_..., Methods).

    Plating n at n * step_ma_cm2, stripping fixed at strip_ma_cm2, each cap_mah_cm2; in the
    plating half-cycle of step ``critical_step`` the polarisation falls by ``drop_mV`` at 40 %
    of the half-cycle (a dendrite bridges). ``flip`` reverses the instrument sign convention.
    Returns (df, truth_ma_cm2).
    """
    rng = np.random.default_rng(seed)
    ts, vs, is_ = [], [], []
    t_now = 0.0

    def emit(dur, j_ma_cm2, sign, drop_at=None):
        nonlocal t_now
        tt = np.arange(t_now, t_now + dur, dt_s)
        i = sign * j_ma_cm2 * 1e-3 * area_cm2 * np.ones_like(tt)
        pol = 1e-3 * r_area_ohm_cm2 * j_ma_cm2 * (1 + 0.05 * (tt - t_now) / dur)
        if drop_at is not None:
            td = t_now + drop_at * dur
            pol = pol - 1e-3 * drop_mV * (1 - np.exp(-np.clip(tt - td, 0, None) / (0.02 * dur)))
        ts.append(tt)
        vs.append(sign * pol)
        is_.append(i)
        t_now += dur

    def rest(dur):
        nonlocal t_now
        tt = np.arange(t_now, t_now + dur, dt_s)
        ts.append(tt)
        vs.append(np.zeros_like(tt))
        is_.append(np.zeros_like(tt))
        t_now += dur

    rest(rest_s)
    for n in range(1, n_steps + 1):
        j = n * step_ma_cm2
        emit(cap_mah_cm2 / j * 3600.0, j, +1, drop_at=0.4 if n == critical_step else None)
        rest(rest_s)
        emit(cap_mah_cm2 / strip_ma_cm2 * 3600.0, strip_ma_cm2, -1)
        rest(rest_s)
    t = np.concatenate(ts)
    v = np.concatenate(vs) + rng.normal(0.0, noise_mV * 1e-3, t.size)
    i = np.concatenate(is_)
    if flip:
        v, i = -v, -i
    return (pd.DataFrame({"time_s": t, "voltage_V": v, "current_A": i}),
            critical_step * step_ma_cm2)
