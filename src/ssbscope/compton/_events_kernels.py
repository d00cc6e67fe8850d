"""The numba kernels of :func:`ssbscope.compton.events.events_to_cube` (see that module's
docstring for the binning passes).

Module-level functions compiled with ``cache=True``: the machine code is written beside this
file (``__pycache__``, or ``NUMBA_CACHE_DIR``) by the first process that compiles a
specialisation and loaded by every later one (~13 s of compilation per process before, when
they were closures built at the first call).  Imported lazily by ``events.py``, so that
importing :mod:`ssbscope.compton` does not import numba.
"""

import numpy as np
import numba as nb
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# The kernels below index with unsigned (uint64) integers only: numba adds a
# negative-index wraparound test to every access through a signed index, which costs
# the stamping loops ~1.7x.  Mixing uint64 with int64 would promote to float64, so every
# operand is converted explicitly.
U = np.uint64


@intrinsic
def load_u32(typingctx, arr, idx):
    # bytes arr[idx:idx + 4] of a uint8 array as one little-endian uint32 (unaligned load)
    sig = types.uint32(arr, idx)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(32).as_pointer())
        return builder.load(ptr, align=1)

    return sig, codegen


@nb.njit(nogil=True, inline="always", cache=True)
def calib_pass(rec, vals, ub0, nq, gain, offset, nrows, ncols, energy):
    # energy[q] = gain * value + offset of the hit's pixel (float32, pixel 0 for a hit
    # outside the range): the data-dependent table loads in a short scalar loop of
    # their own, so that keys_pass stays vectorizable
    u1 = U(1)
    u2 = U(2)
    u3 = U(3)
    m8 = U(0xFF)
    s8 = U(8)
    nr = U(nrows)
    nc = U(ncols)
    q = U(0)
    while q < nq:
        k = ub0 + q
        rc = U(rec[u3 * k + u1])
        r = rc & m8
        c = (rc >> s8) & m8
        p = r * nc + c if (r < nr) & (c < nc) else U(0)
        energy[q] = vals[u3 * k + u2] * gain[p] + offset[p]
        q += u1


@nb.njit(nogil=True, inline="always", cache=True)
def keys_pass(rec, vals, ub0, nq, energy, cal, disc, e_min, inv_w, nbins, nrows, ncols,
              keys, cells):
    # Records ub0:ub0 + nq -> cube index of every hit in keys[q], or a spare counter: +0
    # energy out of range, +1 outside the pixel range, +2 negative value.  With disc, the
    # padded-map cell of every valid hit (a dummy cell for the others) in cells[q].  No
    # stores but keys[q]/cells[q] and no branches: LLVM vectorizes the loop (gathers of
    # the records); with cal the calibrated energies come from energy[q] (calib_pass).
    # cal and disc are constants after inlining.
    u1 = U(1)
    u2 = U(2)
    u3 = U(3)
    m8 = U(0xFF)
    s8 = U(8)
    w = U(ncols + 2)
    nr = U(nrows)
    nc = U(ncols)
    nb_ = U(nbins)
    spare = U(nrows * ncols * nbins)
    dummy = U((nrows + 3) * (ncols + 2) + 1)
    q = U(0)
    while q < nq:
        k = ub0 + q
        rc = U(rec[u3 * k + u1])
        r = rc & m8
        c = (rc >> s8) & m8
        v = vals[u3 * k + u2]
        inr = (r < nr) & (c < nc)
        ok = inr & (v >= 0)
        p = r * nc + c if inr else U(0)
        e = energy[q] if cal else v
        # floor((e - e_min) / width) for x >= -1, then one unsigned range test
        xi = U(np.int64((e - e_min) * inv_w + 1.0) - 1)
        code = spare + U(not inr) + U(2) * U(inr & (v < 0))
        keys[q] = np.uint32(p * nb_ + xi) if ok & (xi < nb_) else np.uint32(code)
        if disc:
            pp = (r + u1) * w + c + u1 if ok else dummy
            cells[q] = np.uint32(pp)
        q += u1


@nb.njit(nogil=True, inline="always", cache=True)
def reject(keys, o, spare):
    # send hit o to the rejected-hit counter (a hit already on a spare counter stays)
    keys[o] = max(keys[o], spare)


@nb.njit(nogil=True, cache=True)
def discard_pass(rec, ub0, nq, conn8, spare, ncols, keys, cells, stamp, owner, tok, prev):
    # Charge-sharing discrimination of whole frames (records ub0:ub0 + nq), one pass:
    # each hit tests the 3 x 3 (8-connectivity) or plus-shaped (4) window around its
    # cell in a byte map stamped with its frame's token (1-255; the map is cleared only
    # when the token wraps): three unaligned 4-byte loads of the rows above, at and
    # below the cell (bytes col - 1 .. col + 1 used), x = map ^ token, and a zero-byte
    # test per row.  A hit that finds a stamped cell rejects itself and, through the
    # owner map (block index of the last hit that stamped each cell; uint16 unless a
    # frame has more hits), every earlier hit of its window.  Invalid hits all use the
    # dummy cell, whose window no valid hit reaches.  Returns the token and the number
    # of frame decreases.
    u1 = U(1)
    u3 = U(3)
    w = U(ncols + 2)
    lo = np.uint32(0x010101)
    hi = np.uint32(0x808080)
    mid = np.uint32(0xFF00)
    sp = np.uint32(spare)
    t = np.uint32(tok)
    unsorted = 0
    if nq > U(0):  # a block starts with a frame: next token
        f = rec[u3 * ub0]
        unsorted += f < prev
        prev = f
        t += np.uint32(1)
        if t > np.uint32(255):
            stamp[:] = 0
            t = np.uint32(1)
    tt = t * np.uint32(0x01010101)
    q = U(0)
    while q < nq:
        f = rec[u3 * (ub0 + q)]
        if f != prev:  # first hit of a frame: next token
            unsorted += f < prev
            t += np.uint32(1)
            if t > np.uint32(255):
                stamp[:] = 0
                t = np.uint32(1)
            tt = t * np.uint32(0x01010101)
            prev = f
        pp = U(cells[q])
        up = pp - w
        dn = pp + w
        a = load_u32(stamp, up - u1) ^ tt
        b = load_u32(stamp, pp - u1) ^ tt
        d = load_u32(stamp, dn - u1) ^ tt
        # (x - 0x010101) & ~x & 0x808080 is nonzero exactly when one of the low three
        # bytes of x is zero (borrows run upwards from a zero byte only)
        if conn8:
            hit = (((a - lo) & ~a) | ((b - lo) & ~b) | ((d - lo) & ~d)) & hi
        else:
            hit = (((b - lo) & ~b) & hi) | np.uint32(((a & mid) == 0) | ((d & mid) == 0))
        if hit:
            t8 = np.uint8(t)
            reject(keys, q, sp)
            for cell in (pp, pp - u1, pp + u1, up, dn):
                if stamp[cell] == t8:
                    reject(keys, U(owner[cell]), sp)
            if conn8:
                for cell in (up - u1, up + u1, dn - u1, dn + u1):
                    if stamp[cell] == t8:
                        reject(keys, U(owner[cell]), sp)
        stamp[pp] = np.uint8(t)
        owner[pp] = np.uint32(q)
        q += u1
    return t, unsorted


@nb.njit(nogil=True, cache=True)
def bin_main(rec, vals, start, end, gain, offset, use_cal, e_min, inv_w, nbins, discard,
             conn8, nrows, ncols, cube, stamp, owner, keys, cells, energy, status):
    # "none" and "discard".  rec/vals: flat uint32/float32 views of the 12-byte records
    # (frame, row | col << 8, value); cube: nrows * ncols * nbins counters + _N_SPARE.
    # Blocks of keys.size records (cut at frame boundaries when discarding): keys (and
    # cells), discrimination, then a scatter of the block's keys into the cube.
    # status[0] += frame decreases.
    nk = keys.size
    spare = nrows * ncols * nbins
    unsorted = 0
    tok = 0
    b0 = start
    prev = rec[3 * start] if end > start else 0
    while b0 < end:
        b1 = min(end, b0 + nk)
        big = False
        if discard and b1 < end:
            f = rec[3 * b1]
            b = b1
            while b > b0 and rec[3 * (b - 1)] == f:  # back to the frame start
                b -= 1
            if b > b0:
                b1 = b
            else:  # a single frame longer than the buffer: take it whole
                while b1 < end and rec[3 * b1] == f:
                    b1 += 1
                big = True
        kb = np.empty(b1 - b0, keys.dtype) if big else keys
        cb = np.empty(b1 - b0, cells.dtype) if big else cells
        eb = np.empty(b1 - b0, energy.dtype) if big and use_cal else energy
        ub0 = U(b0)
        nq = U(b1 - b0)
        if use_cal:
            calib_pass(rec, vals, ub0, nq, gain, offset, nrows, ncols, eb)
            if discard:
                keys_pass(rec, vals, ub0, nq, eb, True, True, e_min, inv_w, nbins,
                          nrows, ncols, kb, cb)
            else:
                keys_pass(rec, vals, ub0, nq, eb, True, False, e_min, inv_w, nbins,
                          nrows, ncols, kb, cb)
        elif discard:
            keys_pass(rec, vals, ub0, nq, eb, False, True, e_min, inv_w, nbins,
                      nrows, ncols, kb, cb)
        else:
            keys_pass(rec, vals, ub0, nq, eb, False, False, e_min, inv_w, nbins,
                      nrows, ncols, kb, cb)
        q = U(0)
        if discard:
            if nq > U(0xFFFF):  # a frame of more hits than a uint16 owner map indexes
                own32 = np.zeros(owner.size, np.uint32)
                tok, uns = discard_pass(rec, ub0, nq, conn8, spare, ncols, kb, cb, stamp,
                                        own32, tok, prev)
            else:
                tok, uns = discard_pass(rec, ub0, nq, conn8, spare, ncols, kb, cb, stamp,
                                        owner, tok, prev)
            unsorted += uns
            while q < nq:
                cube[kb[q]] += 1
                q += U(1)
        else:  # the order check rides on the (latency-bound) scatter loop
            f0 = prev
            while q < nq:
                f = rec[U(3) * (ub0 + q)]
                unsorted += f < f0
                f0 = f
                cube[kb[q]] += 1
                q += U(1)
        prev = rec[3 * (b1 - 1)]
        b0 = b1
    status[0] += unsorted


@nb.njit(nogil=True, inline="always", cache=True)
def n_stamped(stamp, pp, w, t8, conn8):
    # number of stamped neighbours of padded cell pp, and the last one found
    u1 = U(1)
    up = pp - w
    dn = pp + w
    cnt = 0
    last = pp
    for cell in (pp - u1, pp + u1, up, dn):
        if stamp[cell] == t8:
            cnt += 1
            last = cell
    if conn8:
        for cell in (up - u1, up + u1, dn - u1, dn + u1):
            if stamp[cell] == t8:
                cnt += 1
                last = cell
    return cnt, last


@nb.njit(nogil=True, cache=True)
def add_block(rec, vals, b0, b1, gain, offset, use_cal, pmask, e_min, inv_w, nbins, conn8,
              nrows, ncols, cube, stamp, twin, owner, keys, tok, prev, status):
    # "add", records b0:b1 (whole frames).  Frame by frame: stamp every valid hit with
    # the frame's token (1-255, uint8) in a padded (nrows + 5) x (ncols + 2) map, a
    # second hit on a stamped cell in the twin map, its record index in the owner map
    # (no clearing between frames, a stale stamp carries an older token, except every
    # 255 frames; invalid hits stamp a dummy cell that is no real pixel's neighbour);
    # then compute each hit's cube index: a hit with a stamped neighbour or twin is kept
    # only as the larger half of an isolated pair; rejected, masked, out-of-range hits
    # -> the first spare counter.  Finally scatter the block's indices.
    u1 = U(1)
    u2 = U(2)
    u3 = U(3)
    m8 = U(0xFF)
    s8 = U(8)
    w = U(ncols + 2)
    nr = U(nrows)
    nc = U(ncols)
    nb_ = U(nbins)
    trash = np.uint32(nrows * ncols * nbins)
    dummy = U((nrows + 3) * (ncols + 2) + 1)
    ub0 = U(b0)
    end = U(b1)
    outside = 0
    negative = 0
    unsorted = 0
    i = ub0
    while i < end:
        f = rec[u3 * i]
        unsorted += f < prev
        prev = f
        j = i + u1
        while j < end and rec[u3 * j] == f:
            j += u1
        if tok == 255:
            stamp[:] = 0
            twin[:] = 0
            tok = 0
        tok += 1
        t8 = np.uint8(tok)
        k = i
        while k < j:
            rc = U(rec[u3 * k + u1])
            r = rc & m8
            c = (rc >> s8) & m8
            ok = (r < nr) & (c < nc) & (vals[u3 * k + u2] >= 0)
            pp = (r + u1) * w + c + u1 if ok else dummy
            twin[pp] = t8 if stamp[pp] == t8 else twin[pp]
            stamp[pp] = t8
            owner[pp] = np.int32(k - i)
            k += u1
        k = i
        while k < j:
            rc = U(rec[u3 * k + u1])
            r = rc & m8
            c = (rc >> s8) & m8
            v = vals[u3 * k + u2]
            inr = (r < nr) & (c < nc)
            outside += not inr
            negative += inr & (v < 0)
            ok = inr & (v >= 0)
            if not inr:
                r = U(0)
                c = U(0)
            pp = (r + u1) * w + c + u1
            up = pp - w
            dn = pp + w
            hit = ((twin[pp] == t8) | (stamp[pp - u1] == t8) | (stamp[pp + u1] == t8)
                   | (stamp[up] == t8) | (stamp[dn] == t8))
            if conn8:
                hit |= ((stamp[up - u1] == t8) | (stamp[up + u1] == t8)
                        | (stamp[dn - u1] == t8) | (stamp[dn + u1] == t8))
            p = r * nc + c
            e = v * gain[p] + offset[p] if use_cal else v
            if hit and ok:
                # keep only an isolated pair (each pixel hit once, one neighbour each);
                # its summed signal goes to the pixel with the larger signal (the
                # earlier record on a tie)
                ok = False
                cnt, qq = n_stamped(stamp, pp, w, t8, conn8)
                if twin[pp] != t8 and cnt == 1 and twin[qq] != t8:
                    m2, _ = n_stamped(stamp, qq, w, t8, conn8)
                    if m2 == 1:
                        q = i + U(owner[qq])
                        rq = U(rec[u3 * q + u1])
                        pq = (rq & m8) * nc + ((rq >> s8) & m8)
                        vq = vals[u3 * q + u2]
                        eq = vq * gain[pq] + offset[pq] if use_cal else vq
                        if eq < e or (eq == e and k < q):
                            e = e + eq
                            ok = True
            xi = U(np.int64((e - e_min) * inv_w + 1.0) - 1)
            ok &= pmask[p] & (xi < nb_)
            keys[k - ub0] = np.uint32(p * nb_ + xi) if ok else trash
            k += u1
        i = j
    q = U(0)
    nq = end - ub0
    while q < nq:
        cube[keys[q]] += 1
        q += u1
    status[0] += unsorted
    status[1] += outside
    status[2] += negative
    return tok


@nb.njit(nogil=True, cache=True)
def bin_add(rec, vals, start, end, gain, offset, use_cal, pmask, e_min, inv_w, nbins, conn8,
            nrows, ncols, cube, stamp, twin, owner, keys, status):
    # "add": blocks of keys.size records cut at frame boundaries.  status: [0] frame
    # decreases, [1] pixel out of range, [2] negative value.
    nk = keys.size
    tok = 0
    b0 = start
    while b0 < end:
        b1 = min(end, b0 + nk)
        big = False
        if b1 < end:
            f = rec[3 * b1]
            b = b1
            while b > b0 and rec[3 * (b - 1)] == f:  # back to the frame start
                b -= 1
            if b > b0:
                b1 = b
            else:  # a single frame longer than the buffer: take it whole
                while b1 < end and rec[3 * b1] == f:
                    b1 += 1
                big = True
        prev = rec[3 * (b0 - 1)] if b0 > start else rec[3 * b0]
        kb = np.empty(b1 - b0, keys.dtype) if big else keys
        tok = add_block(rec, vals, b0, b1, gain, offset, use_cal, pmask, e_min, inv_w, nbins,
                        conn8, nrows, ncols, cube, stamp, twin, owner, kb, tok, prev, status)
        b0 = b1
