"""One-call summary of an electrochemistry log (what ``ssbscope echem FILE`` prints)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ssbscope.echem._checks import check_echem, positive_or_none
from ssbscope.echem._segments import half_cycles, label_samples
from ssbscope.echem.ccd import critical_current_steps
from ssbscope.echem.cycles import cycle_table
from ssbscope.echem.shorts import ShortEvent, detect_shorts

__all__ = ["EchemSummary", "summarize"]

log = logging.getLogger(__name__)


def _clean(x):
    """JSON-friendly: numpy scalars -> Python, NaN -> None."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass(frozen=True)
class EchemSummary:
    """Summary of a galvanostatic log.

    Attributes
    ----------
    duration_s : float
        Span of the log (s).
    n_points : int
        Rows.
    area_cm2, mass_mg : float or None
        Normalisations used.
    total_charge_mAh, total_discharge_mAh : float
        Sum of charge / discharge half-cycle capacities (mAh).
    n_cycles : int
        Cycles (a charge and the discharge after it; a trailing charge counts).
    cycles : pandas.DataFrame
        :func:`ssbscope.echem.cycle_table` (per-cycle capacities and CE).
    coulombic_efficiency : list of float
        CE (fraction) of the full cycles.
    shorts : list of ShortEvent
        :func:`ssbscope.echem.detect_shorts` result.
    stepped_protocol : bool
        The plating current rises step-wise while the other direction stays fixed.
    ccd_ma_cm2 : float or None
        Critical current density (mA cm^-2) when the protocol is stepped, ``area_cm2`` is
        given and a step shows the drop.
    ccd_note : str
        Why there is no CCD (empty when there is one).
    """

    duration_s: float
    n_points: int
    area_cm2: float | None
    mass_mg: float | None
    total_charge_mAh: float
    total_discharge_mAh: float
    n_cycles: int
    cycles: pd.DataFrame = field(repr=False)
    coulombic_efficiency: list
    shorts: list
    stepped_protocol: bool
    ccd_ma_cm2: float | None
    ccd_note: str

    def to_dict(self) -> dict:
        """JSON-serialisable dict (NaN -> None; cycles as a list of row dicts)."""
        d = {
            "duration_s": self.duration_s, "n_points": self.n_points,
            "area_cm2": self.area_cm2, "mass_mg": self.mass_mg,
            "total_charge_mAh": self.total_charge_mAh,
            "total_discharge_mAh": self.total_discharge_mAh,
            "n_cycles": self.n_cycles,
            "cycles": self.cycles.to_dict(orient="records"),
            "coulombic_efficiency": list(self.coulombic_efficiency),
            "shorts": [e.to_dict() for e in self.shorts],
            "stepped_protocol": self.stepped_protocol,
            "ccd_ma_cm2": self.ccd_ma_cm2, "ccd_note": self.ccd_note,
        }
        if self.area_cm2:
            d["total_charge_mAh_cm2"] = self.total_charge_mAh / self.area_cm2
            d["total_discharge_mAh_cm2"] = self.total_discharge_mAh / self.area_cm2
        if self.mass_mg:
            d["total_charge_mAh_g"] = self.total_charge_mAh / (self.mass_mg * 1e-3)
            d["total_discharge_mAh_g"] = self.total_discharge_mAh / (self.mass_mg * 1e-3)
        return _clean(d)

    def to_text(self) -> str:
        """Plain-text report (a few lines and the cycle table)."""
        lines = [f"duration: {self.duration_s / 3600:.3f} h ({self.n_points} points)",
                 f"charge passed: {self.total_charge_mAh:.4g} mAh, discharge: "
                 f"{self.total_discharge_mAh:.4g} mAh"]
        if self.area_cm2:
            lines.append(f"  = {self.total_charge_mAh / self.area_cm2:.4g} / "
                         f"{self.total_discharge_mAh / self.area_cm2:.4g} mAh cm^-2 "
                         f"(area {self.area_cm2:g} cm^2)")
        if self.mass_mg:
            g = self.mass_mg * 1e-3
            lines.append(f"  = {self.total_charge_mAh / g:.4g} / {self.total_discharge_mAh / g:.4g}"
                         f" mAh g^-1 (mass {self.mass_mg:g} mg)")
        lines.append(f"cycles: {self.n_cycles}")
        if len(self.cycles):
            show = self.cycles[["cycle", "charge_capacity_mAh", "discharge_capacity_mAh",
                                "coulombic_efficiency"]].copy()
            show["CE_percent"] = 100 * show.pop("coulombic_efficiency")
            lines.append(show.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        if self.shorts:
            for e in self.shorts:
                end = "not recovered" if e.end_s is None else f"recovered at {e.end_s:.0f} s"
                lines.append(f"{e.kind} short at {e.onset_s:.0f} s ({end})")
        else:
            lines.append("shorts: none found")
        if self.stepped_protocol:
            lines.append(f"critical current density: {self.ccd_ma_cm2:.4g} mA cm^-2"
                         if self.ccd_ma_cm2 is not None else f"critical current density: {self.ccd_note}")
        return "\n".join(lines)


def _stepped(t, i, thr) -> bool:
    lab = label_samples(i, thr)
    hcs = half_cycles(t, i, thr, labels=lab)
    mags = {s: [float(np.median(np.abs(i[h.start:h.stop + 1][lab[h.start:h.stop + 1] == s])))
                for h in hcs if h.sign == s] for s in (1, -1)}
    for s in (1, -1):
        m, o = np.asarray(mags[s]), np.asarray(mags[-s])
        if m.size < 3 or o.size < 2:
            continue
        rising = np.mean(np.diff(m) / m[:-1] > 0.05) >= 0.8
        fixed = (o.max() - o.min()) / o.mean() < 0.1
        if rising and fixed and m.max() / m.min() > 1.5:
            return True
    return False


def summarize(df: pd.DataFrame, area_cm2: float | None = None, mass_mg: float | None = None, *,
              drop_mV: float = 2.0, current_threshold_A: float | None = None) -> EchemSummary:
    """Summarise a log: capacities, cycles and CE, shorts, and the CCD of a stepped protocol.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (``time_s``, ``voltage_V``, ``current_A`` > 0 on charge); not modified.
    area_cm2 : float, optional
        Electrode area (cm^2): areal capacities and the CCD.
    mass_mg : float, optional
        Active mass (mg): specific capacities.
    drop_mV : float, default 2
        Drop that marks dendrite penetration in a stepped protocol (003_103f2bf5a3479ade).
    current_threshold_A : float, optional
        Rest threshold (see :func:`ssbscope.echem.add_capacity`).

    Returns
    -------
    EchemSummary
    """
    t, _, i = check_echem(df)
    area = positive_or_none("area_cm2", area_cm2, "pass the electrode area in cm^2")
    mass = positive_or_none("mass_mg", mass_mg, "pass the active mass in mg")
    hcs = half_cycles(t, i, current_threshold_A)
    tab = cycle_table(df, area, mass, current_threshold_A=current_threshold_A)
    ce = [float(x) for x in tab["coulombic_efficiency"] if np.isfinite(x)]
    shorts: list[ShortEvent] = detect_shorts(df, current_threshold_A=current_threshold_A)
    stepped = _stepped(t, i, current_threshold_A)
    ccd, note = None, ""
    if stepped:
        if area is None:
            note = "stepped protocol found; pass area_cm2 for the critical current density"
        else:
            steps = critical_current_steps(df, area, drop_mV=drop_mV,
                                           current_threshold_A=current_threshold_A)
            hit = steps[steps["dendrite"]]
            if hit.empty:
                note = (f"no plating step shows a {drop_mV} mV drop "
                        f"(largest {steps['drop_mV'].max():.3g} mV)")
            else:
                ccd = float(hit["current_density_ma_cm2"].iloc[0])
    else:
        note = "not a stepped plating protocol"
    return EchemSummary(
        duration_s=float(t[-1] - t[0]), n_points=int(t.size), area_cm2=area, mass_mg=mass,
        total_charge_mAh=float(sum(h.capacity_mAh for h in hcs if h.sign > 0)),
        total_discharge_mAh=float(sum(h.capacity_mAh for h in hcs if h.sign < 0)),
        n_cycles=int(len(tab)), cycles=tab, coulombic_efficiency=ce, shorts=shorts,
        stepped_protocol=bool(stepped), ccd_ma_cm2=ccd, ccd_note=note)

