"""Sparse finite-volume assembly and an aggregation-multigrid preconditioned CG solver.

The 7-point finite-volume operator on a voxel grid is the one TauFactor discretises
(Cooper et al., SoftwareX 5, 203 (2016)): one unknown per conducting voxel, face
conductances equal to the harmonic mean of the two voxel conductivities, and Dirichlet
values imposed half a voxel outside the first and last slices (conductance ``2 c``).

The preconditioner is a V-cycle over a hierarchy built by aggregating 2 x 2 x 2 boxes of
the voxel grid (piecewise-constant prolongation, Galerkin coarse operators scaled by 1/2,
which corrects the known over-estimate of unsmoothed aggregation for a 7-point stencil).
Box aggregation costs almost nothing to set up, unlike algebraic (smoothed) aggregation.
Smoothing is one forward and one backward Gauss-Seidel sweep (pyamg's compiled kernel)
when pyamg is installed, two damped-Jacobi sweeps otherwise; both are deterministic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ssbscope.errors import ConvergenceError

log = logging.getLogger(__name__)

__all__ = ["assemble", "solve_spd", "SolveInfo"]


def _faces(cond_a: np.ndarray, cond_b: np.ndarray) -> np.ndarray:
    """Harmonic-mean face conductance 2 a b / (a + b) (0 where either side is 0)."""
    s = cond_a + cond_b
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where((cond_a > 0) & (cond_b > 0), 2.0 * cond_a * cond_b / s, 0.0)
    return g


def assemble(cond: np.ndarray, axis: int, periodic: bool):
    """Assemble ``A u = b`` for potential 1 at the inlet (index 0) and 0 at the outlet.

    Parameters
    ----------
    cond : (Z, Y, X) float ndarray
        Voxel conductivity; 0 marks voxels that take no part (non-conducting or removed).
    axis : int
        Transport axis (0, 1 or 2).
    periodic : bool
        Wrap the two axes other than ``axis``.

    Returns
    -------
    A : scipy.sparse.csr_matrix
        SPD matrix over the conducting voxels (row order = C order of ``cond > 0``).
    b : ndarray
        Right-hand side.
    index : (Z, Y, X) int32 ndarray
        Unknown number of each voxel, -1 outside.
    """
    c = np.moveaxis(cond, axis, 0)
    active = c > 0
    n_unknown = int(active.sum())
    index_t = np.full(c.shape, -1, dtype=np.int32)
    index_t[active] = np.arange(n_unknown, dtype=np.int32)
    nb = np.empty((n_unknown, 7), dtype=np.int32)
    gv = np.empty((n_unknown, 7), dtype=np.float64)
    diag = np.zeros(n_unknown, dtype=np.float64)
    c_act = c[active].astype(np.float64)
    uniform = bool(np.all(c_act == c_act[0]))
    # column slots: -ax0, -ax1, -ax2, self, +ax2, +ax1, +ax0 (sorted when not periodic)
    slot = {(0, -1): 0, (1, -1): 1, (2, -1): 2, (2, 1): 4, (1, 1): 5, (0, 1): 6}
    for d in range(3):
        n_d = c.shape[d]
        wrap = periodic and d != 0 and n_d > 1
        for step in (-1, 1):
            if wrap:
                nbk = np.roll(index_t, -step, axis=d)[active]
            else:
                nb_full = np.full_like(index_t, -1)
                if n_d > 1:
                    lo = [slice(None)] * 3
                    hi = [slice(None)] * 3
                    lo[d] = slice(0, -1)
                    hi[d] = slice(1, None)
                    here, there = (tuple(hi), tuple(lo)) if step == -1 else (tuple(lo), tuple(hi))
                    nb_full[here] = index_t[there]
                nbk = nb_full[active]
                del nb_full
            has = nbk >= 0
            if uniform:
                gk = has * c_act[0]
            else:
                cn = c_act[np.where(has, nbk, 0)]
                gk = np.where(has, 2.0 * c_act * cn / (c_act + cn), 0.0)
            k = slot[(d, step)]
            nb[:, k] = nbk
            gv[:, k] = -gk
            diag += gk
    # Dirichlet faces, half a voxel outside slice 0 (value 1) and slice N-1 (value 0)
    g_in = np.zeros(c.shape)
    g_in[0] = 2.0 * c[0]
    g_out = np.zeros(c.shape)
    g_out[-1] = 2.0 * c[-1]
    g_in_a = g_in[active]
    diag += g_in_a + g_out[active]
    b = g_in_a.copy()  # potential 1 at the inlet, 0 at the outlet
    del g_in, g_out
    nb[:, 3] = np.arange(n_unknown, dtype=np.int32)
    gv[:, 3] = diag
    del diag
    valid = nb >= 0
    counts = valid.sum(axis=1)
    indptr = np.zeros(n_unknown + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = nb[valid]
    data = gv[valid]
    del nb, gv, valid
    A = sp.csr_matrix((data, indices, indptr), shape=(n_unknown, n_unknown))
    A.has_sorted_indices = False
    index = np.moveaxis(index_t, 0, axis)
    return A, b, index


@dataclass(frozen=True)
class SolveInfo:
    """Convergence record of one solve.

    Attributes
    ----------
    iterations : int
        CG iterations.
    relative_residual : float
        ``||b - A x|| / ||b||`` at exit (the stopping criterion).
    rtol : float
        Requested relative residual.
    levels : int
        Multigrid levels.
    smoother : str
        ``"gauss-seidel"`` (pyamg kernel) or ``"jacobi"``.
    """

    iterations: int
    relative_residual: float
    rtol: float
    levels: int
    smoother: str


def _box_hierarchy(A: sp.csr_matrix, index_grid: np.ndarray, max_coarse: int = 1500):
    """Levels ``[(A_l, P_l)]`` by aggregating 2x2x2 boxes of the voxel grid."""
    levels = []
    cur = index_grid
    Al = A
    while Al.shape[0] > max_coarse and min(cur.shape) >= 1:
        shape = cur.shape
        pad = [(0, (-s) % 2) for s in shape]
        cp = np.pad(cur, pad, constant_values=-1)
        s2 = tuple(s // 2 for s in cp.shape)
        occ = (cp.reshape(s2[0], 2, s2[1], 2, s2[2], 2) >= 0).any(axis=(1, 3, 5))
        nxt = np.full(s2, -1, dtype=np.int32)
        n_coarse = int(occ.sum())
        if n_coarse >= Al.shape[0]:
            break
        nxt[occ] = np.arange(n_coarse, dtype=np.int32)
        up = nxt.repeat(2, 0).repeat(2, 1).repeat(2, 2)[: shape[0], : shape[1], : shape[2]]
        m = cur >= 0
        agg = np.empty(Al.shape[0], dtype=np.int32)
        agg[cur[m]] = up[m]
        del up, m
        n_fine = Al.shape[0]
        P = sp.csr_matrix(
            (np.ones(n_fine), agg, np.arange(n_fine + 1, dtype=np.int64)), shape=(n_fine, n_coarse)
        )
        R = P.T.tocsr()
        levels.append((Al, P, R))
        Al = (R @ Al @ P).tocsr() * 0.5
        cur = nxt
    levels.append((Al, None, None))
    return levels


class _VCycle:
    """Symmetric V-cycle preconditioner over a box-aggregation hierarchy."""

    def __init__(self, levels):
        self.levels = levels
        try:
            from pyamg.relaxation.relaxation import gauss_seidel

            self._gs = gauss_seidel
            self.smoother = "gauss-seidel"
        except ImportError:  # pragma: no cover - exercised only without pyamg
            self._gs = None
            self.smoother = "jacobi"
        self._dinv = [1.0 / A.diagonal() for A, _, _ in levels]
        A_c = levels[-1][0]
        # sparse LU (SuperLU, single-threaded): deterministic and free of BLAS-thread contention
        self._coarse = spla.splu(A_c.tocsc()) if A_c.shape[0] else None

    def _smooth(self, lvl, x, b, direction):
        A = self.levels[lvl][0]
        if self._gs is not None:
            self._gs(A, x, b, iterations=1, sweep=direction)
        else:
            w = 2.0 / 3.0
            for _ in range(2):
                x += w * self._dinv[lvl] * (b - A @ x)

    def _cycle(self, lvl, b):
        A, P, R = self.levels[lvl]
        if P is None:
            if b.size == 0:
                return b.copy()
            return self._coarse.solve(b)
        x = np.zeros_like(b)
        self._smooth(lvl, x, b, "forward")
        r = b - A @ x
        x += P @ self._cycle(lvl + 1, R @ r)
        self._smooth(lvl, x, b, "backward")
        return x

    def __call__(self, b):
        return self._cycle(0, np.ascontiguousarray(b, dtype=np.float64))


def solve_spd(A, b, index_grid, x0=None, rtol=1e-6, maxiter=500):
    """Solve ``A x = b`` by CG with the box-aggregation V-cycle; raise if not converged.

    Parameters
    ----------
    A : (n, n) sparse SPD matrix
    b : (n,) ndarray
    index_grid : ndarray of int
        Unknown number of each voxel (-1 outside), any axis order matching ``A``.
    x0 : (n,) ndarray, optional
        Initial guess.
    rtol : float
        Stop when ``||b - A x|| <= rtol ||b||``.
    maxiter : int
        Iteration limit; :class:`ssbscope.errors.ConvergenceError` beyond it.

    Returns
    -------
    x : ndarray
    info : SolveInfo
    """
    levels = _box_hierarchy(A, index_grid)
    vc = _VCycle(levels)
    n = b.shape[0]
    tmp = np.empty(n)

    def dot(u, v):
        # pairwise summation in numpy (no BLAS threads): same bytes whatever the thread count
        return float(np.multiply(u, v, out=tmp).sum())

    bnorm = dot(b, b) ** 0.5
    if bnorm == 0:
        return np.zeros_like(b), SolveInfo(0, 0.0, rtol, len(levels), vc.smoother)
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=np.float64)
    r = b - A @ x
    rel = dot(r, r) ** 0.5 / bnorm
    it = 0
    converged = rel <= rtol
    if not converged:
        z = vc(r)
        p = z.copy()
        rz = dot(r, z)
        while it < maxiter:
            Ap = A @ p
            alpha = rz / dot(p, Ap)
            x += alpha * p
            r -= alpha * Ap
            it += 1
            rel = dot(r, r) ** 0.5 / bnorm
            if rel <= rtol:
                converged = True
                break
            z = vc(r)
            rz_new = dot(r, z)
            p *= rz_new / rz
            p += z
            rz = rz_new
    res = b - A @ x
    rel = dot(res, res) ** 0.5 / bnorm  # true residual (the recursive one can drift)
    info = SolveInfo(it, rel, rtol, len(levels), vc.smoother)
    log.debug("CG: %d iterations, relative residual %.3e, %d levels", it, rel, len(levels))
    if not converged or rel > rtol * 10:
        raise ConvergenceError(
            f"transport solve: relative residual {rel:.3e} > rtol={rtol:g} after {it} "
            f"CG iterations; raise maxiter or loosen rtol"
        )
    return x, info
