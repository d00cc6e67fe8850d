"""Differential capacity dQ/dV per half-cycle, by charge-conserving voltage binning.

Each interval between consecutive samples carries a charge ``ΔQ = ½(I_k + I_{k+1}) Δt``; it
is deposited in the voltage bin of the interval's mean voltage, and the histogram is divided
by the bin width.  Noise in V only spreads charge over neighbouring bins (a smoothing), the
area is conserved: ``Σ dQ/dV · ΔV`` equals the charge of the samples used.  An optional
Gaussian smoothing (in bins) follows, area-preserving as well.  Constant-voltage holds would
put their whole charge in one bin, so by default only constant-current samples are used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from ssbscope.echem._checks import check_echem, positive
from ssbscope.echem._segments import MAH_PER_AS, half_cycles, label_samples
from ssbscope.errors import ParameterError

__all__ = ["dq_dv"]


def dq_dv(df: pd.DataFrame, *, bin_mV: float = 5.0, smooth_bins: float = 1.0,
          cc_only: bool = True, cc_fraction: float = 0.9,
          current_threshold_A: float | None = None) -> pd.DataFrame:
    """Differential capacity dQ/dV of every half-cycle.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (``time_s``, ``voltage_V``, ``current_A`` > 0 on charge); not modified.
    bin_mV : float, default 5
        Voltage bin width in mV.
    smooth_bins : float, default 1
        Gaussian smoothing sigma in bins (0: none).
    cc_only : bool, default True
        Use only constant-current samples (``|I|`` >= ``cc_fraction`` × the half-cycle's
        95th-percentile current), which leaves CV holds out.
    cc_fraction : float, default 0.9
        See ``cc_only``.
    current_threshold_A : float, optional
        Rest threshold (see :func:`ssbscope.echem.add_capacity`).

    Returns
    -------
    pandas.DataFrame
        Long table: ``half_cycle`` (0, 1, ...), ``direction`` ("charge"/"discharge"),
        ``voltage_V`` (bin centre), ``dq_dv_mAh_V``.  Charge half-cycles are positive,
        discharge half-cycles negative (capacity delivered per volt of decreasing voltage),
        the usual plotting convention.
    """
    t, v, i = check_echem(df)
    bw = positive("bin_mV", bin_mV, "use e.g. 5 mV") * 1e-3
    if not (np.isfinite(smooth_bins) and smooth_bins >= 0):
        raise ParameterError("smooth_bins", smooth_bins, "must be >= 0", "use 0 for no smoothing")
    if not (0 < cc_fraction <= 1):
        raise ParameterError("cc_fraction", cc_fraction, "must be in (0, 1]", "use 0.9")
    lab = label_samples(i, current_threshold_A)
    frames = []
    for h in half_cycles(t, i, current_threshold_A, labels=lab):
        sl = slice(h.start, h.stop + 1)
        tt, vv, ii = t[sl], v[sl], i[sl]
        use = lab[sl] == h.sign
        if cc_only and use.any():
            level = np.percentile(np.abs(ii[use]), 95)
            use &= np.abs(ii) >= cc_fraction * level
        pair = use[1:] & use[:-1]
        if pair.sum() < 2:
            continue
        dq = h.sign * 0.5 * (ii[1:] + ii[:-1]) * np.diff(tt) * MAH_PER_AS
        vm = 0.5 * (vv[1:] + vv[:-1])
        dq, vm = dq[pair], vm[pair]
        pad = int(np.ceil(4 * smooth_bins)) + 1 if smooth_bins > 0 else 0  # keep the smoothed tails
        lo = (np.floor(vm.min() / bw) - pad) * bw
        nb = int(np.floor((vm.max() - lo) / bw)) + 1 + pad
        if nb > 200000:
            raise ParameterError("bin_mV", bin_mV, f"gives {nb} bins for half-cycle {h.index}",
                                 "use a wider bin")
        k = np.clip(((vm - lo) / bw).astype(np.int64), 0, nb - 1)
        hist = np.bincount(k, weights=dq, minlength=nb) / bw
        if smooth_bins > 0:
            hist = gaussian_filter1d(hist, smooth_bins, mode="constant")
        centres = lo + (np.arange(nb) + 0.5) * bw
        frames.append(pd.DataFrame({"half_cycle": h.index, "direction": h.kind,
                                    "voltage_V": centres,
                                    "dq_dv_mAh_V": hist if h.sign > 0 else -hist}))
    if not frames:
        return pd.DataFrame({"half_cycle": pd.Series(dtype=np.int64),
                             "direction": pd.Series(dtype=object),
                             "voltage_V": pd.Series(dtype=float),
                             "dq_dv_mAh_V": pd.Series(dtype=float)})
    return pd.concat(frames, ignore_index=True)
