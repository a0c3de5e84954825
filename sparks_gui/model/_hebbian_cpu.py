"""Fused CPU kernels for the Hebbian attention recurrence (numba).

The recurrence is independent for every pair (i, j) of every head and batch
element, and sequential in time.  One kernel call walks a whole chunk of T steps
for one attention *row* (b, h, i) with the three state rows held in L1, in
parallel over rows (``prange``).  Two outputs are possible:

* ``mode 0``: write A(t) for every step (``Aseq`` [B, H, T, N, N]), for the
  general encoder (conventional blocks after the Hebbian layer) and for users
  who want the attention matrices;
* ``mode 1``: a fused *linear readout* ``out[b, h, i, t, k] = sum_j A_ij(t) K[h, i, k, j]``.
  Without conventional blocks the whole path A(t) -> value projection -> output
  projection -> mu/logvar heads is linear, so it folds into one small tensor K and
  the [B, H, T, N, N] sequence is never stored: memory independent of T x N^2;
* ``mode 2``: every row's own readout, the *tokens* ``tok[b, t, i, h*k + c] =
  sum_j A_ij(t) K[h, i, c, j]`` with K = V^T (shared by the rows, R = 1) or each
  row's gathered partner values (sparse variant, R = N), for models with non-linear
  blocks after the attention read-out (e.g. the residual feed-forward block).

The backward kernel never stores a chunk's whole state history: a first pass keeps
the row's state at every ``S``-th step (``S`` ~ sqrt(T)); each segment is then
recomputed into a small buffer and walked in reverse.  Scratch is O((T/S + S) N)
per worker, so full BPTT over long trials needs little memory (and the buffers stay
in cache).  Parameter gradients are accumulated per batch element (summed by the
caller) so no two threads write the same memory.

Rule codes (see ``hebbian.RULES`` and the counts-safe rule in ``hebbian.py``), with
P <- a_pre P + c_pre s_j and Q <- a_post Q + c_post s_i updated first, and
p_eff = f(min(P, 1), s_i), q_eff = f(min(Q, 1), s_j) (f: 0 for k <= 0, k p for
k <= 1, 1 - (1-p)^k above):
  0 soft_bounded   A <- clamp(A + (1-A) p_eff - A q_eff, lo, hi)
  1 additive       A <- A + s_i min(P, 1) - s_j min(Q, 1)
  2 calcium        A <- clamp(lam A + (1-lam) (x_j - x_i), lo, hi)   (lam = a_pre; traces = activity)
  3 symmetric      A <- clamp(1 - (1-A) (1-p_eff) (1-q_eff), lo, hi)   (order-blind control)
Every kernel takes ``many`` [B, T] (uint8): whether a bin of that step holds a value
> 1.  Steps without one (0/1 spikes) take a loop without the power (f = k p).

The per-step torch implementation in ``hebbian.py`` is the reference these
kernels are tested against.
"""

from __future__ import annotations

import numpy as np

try:  # numba is an optional accelerator; the torch path is always available
    from numba import njit, prange

    HAVE_NUMBA = True
except Exception:  # pragma: no cover - exercised only where numba is missing
    HAVE_NUMBA = False

# contract/reassoc let LLVM vectorise the j loops; NaN/inf semantics are kept so
# a diverging run is still caught by the trainer's finite-loss check.
_FAST = {"contract", "reassoc", "nsz", "arcp"}

if HAVE_NUMBA:

    @njit(inline="always", fastmath=_FAST)
    def _rate(kind, P, k):  # pragma: no cover - jitted
        """(f(min(P, 1), k), its derivative in P): the effective rate of a trace P for a count k.

        ``kind`` says what the values of this step can be (see ``step_kinds``): 0 all <= 1
        (f = k p), 1 those > 1 are integers <= 32 (the power by squaring, branch-free so
        the j loops vectorise), 2 anything (``**``).  A literal ``kind`` folds the branches.
        """
        one = np.float32(1.0)
        zero = np.float32(0.0)
        d = one if one >= P else zero
        p = min(P, one)
        kk = max(k, zero)
        if kind == 0:
            return kk * p, kk * d
        x = one - p
        if kind == 1:
            e = np.int32(max(k, one)) - np.int32(1)  # 0 .. 31
            r = x if e & 1 else one
            b = x * x
            r = r * (b if e & 2 else one)
            b = b * b
            r = r * (b if e & 4 else one)
            b = b * b
            r = r * (b if e & 8 else one)
            b = b * b
            r = r * (b if e & 16 else one)
        else:
            r = x ** (max(k, one) - one)
        if k <= one:
            return kk * p, kk * d
        return one - r * x, k * r * d

    @njit(inline="always", fastmath=_FAST)
    def _pair_update(rule, kind, si, sj, p, q, a, apj, cpj, aqj, cqj, lo, hi):  # pragma: no cover - jitted
        """One step of one pair (rules 0, 1, 3): returns the new (P, Q, A)."""
        one = np.float32(1.0)
        pj = apj * p + cpj * sj
        qj = aqj * q + cqj * si
        if rule == 1:
            return pj, qj, a + si * min(pj, one) - sj * min(qj, one)
        pe = _rate(kind, pj, si)[0]
        qe = _rate(kind, qj, sj)[0]
        v = a * (one - pe - qe) + pe if rule == 0 else one - (one - a) * (one - pe) * (one - qe)
        return pj, qj, min(max(v, lo), hi)

    @njit(inline="always", fastmath=_FAST)
    def _row_loop(rule, kind, st, si, apr, cpr, aqr, cqr, p, q, a, lo, hi):  # pragma: no cover - jitted
        for j in range(a.shape[0]):
            p[j], q[j], a[j] = _pair_update(
                rule, kind, si, st[j], p[j], q[j], a[j], apr[j], cpr[j], aqr[j], cqr[j], lo, hi
            )

    @njit(inline="always", fastmath=_FAST)
    def _row_step(rule, st, si, apr, cpr, aqr, cqr, p, q, a, lo, hi, kind):  # pragma: no cover - jitted
        """Advance one row (p, q, a: length N, in place) by one time step (``kind``: see :func:`_rate`)."""
        one = np.float32(1.0)
        if rule == 2:
            for j in range(a.shape[0]):
                lam = apr[j]
                v = lam * a[j] + (one - lam) * (st[j] - si)
                a[j] = min(max(v, lo), hi)
        elif kind == 0 and rule != 1:  # 0/1 spikes: the plain loop (same numbers as _row_loop with kind 0)
            ki = max(si, np.float32(0.0))
            for j in range(a.shape[0]):
                sj = st[j]
                pj = apr[j] * p[j] + cpr[j] * sj
                qj = aqr[j] * q[j] + cqr[j] * si
                p[j] = pj
                q[j] = qj
                pe = ki * min(pj, one)
                qe = max(sj, np.float32(0.0)) * min(qj, one)
                v = a[j] * (one - pe - qe) + pe if rule == 0 else one - (one - a[j]) * (one - pe) * (one - qe)
                a[j] = min(max(v, lo), hi)
        elif kind == 0:  # one loop per literal kind: each vectorises on its own
            _row_loop(rule, 0, st, si, apr, cpr, aqr, cqr, p, q, a, lo, hi)
        elif kind == 1:
            _row_loop(rule, 1, st, si, apr, cpr, aqr, cqr, p, q, a, lo, hi)
        else:
            _row_loop(rule, 2, st, si, apr, cpr, aqr, cqr, p, q, a, lo, hi)

    @njit(inline="always", fastmath=_FAST)
    def _pair_adjoint(rule, kind, si, sj, aprev, pj, qj, ab, pbar, qbar, lo, hi):  # pragma: no cover - jitted
        """Reverse of one step of one pair (rules 0, 1, 3) given the traces after the step (pj, qj).

        ``ab`` is the adjoint of A after the step; returns (adjoint of A before the step,
        adjoint of P after the step, adjoint of Q after the step) - the latter before the decay.
        """
        one = np.float32(1.0)
        zero = np.float32(0.0)
        if rule == 1:
            dp = si if pj <= one else zero
            dq = sj if qj <= one else zero
            return ab, pbar + ab * dp, qbar - ab * dq
        pe, dpe = _rate(kind, pj, si)
        qe, dqe = _rate(kind, qj, sj)
        if rule == 0:
            decay = one - pe - qe
            v = aprev * decay + pe
            ab = zero if (v < lo or v > hi) else ab
            return ab * decay, pbar + ab * (one - aprev) * dpe, qbar - ab * aprev * dqe
        mp = one - pe
        mq = one - qe
        v = one - (one - aprev) * mp * mq
        ab = zero if (v < lo or v > hi) else ab
        return ab * mp * mq, pbar + ab * (one - aprev) * mq * dpe, qbar + ab * (one - aprev) * mp * dqe

    @njit(inline="always", fastmath=_FAST)
    def _adjoint_loop(
        rule, kind, si, st, Ahu, Phu, Qhu, Ph1, Qh1, ga, apr, aqr, abar, pbar, qbar, gap, gcp, gaq, gcq, lo, hi
    ):  # pragma: no cover - jitted
        """Reverse one step of a whole row: adjoints before the step and parameter gradients (P = a P_prev + c s)."""
        for j in range(abar.shape[0]):
            sj = st[j]
            ab, pb, qb = _pair_adjoint(
                rule, kind, si, sj, Ahu[j], Ph1[j], Qh1[j], abar[j] + ga[j], pbar[j], qbar[j], lo, hi
            )
            abar[j] = ab
            gap[j] += pb * Phu[j]
            gcp[j] += pb * sj
            gaq[j] += qb * Qhu[j]
            gcq[j] += qb * si
            pbar[j] = pb * apr[j]
            qbar[j] = qb * aqr[j]

    @njit(inline="always", fastmath=_FAST)
    def _adjoint_step(
        rule, kind, si, st, Ahu, Phu, Qhu, Ph1, Qh1, ga, apr, aqr, abar, pbar, qbar, gap, gcp, gaq, gcq, lo, hi
    ):  # pragma: no cover - jitted
        """:func:`_adjoint_loop` with a literal ``kind`` (one loop per kind: each vectorises on its own)."""
        if kind == 0:
            _adjoint_loop(
                rule, 0, si, st, Ahu, Phu, Qhu, Ph1, Qh1, ga, apr, aqr, abar, pbar, qbar, gap, gcp, gaq, gcq, lo, hi
            )
        elif kind == 1:
            _adjoint_loop(
                rule, 1, si, st, Ahu, Phu, Qhu, Ph1, Qh1, ga, apr, aqr, abar, pbar, qbar, gap, gcp, gaq, gcq, lo, hi
            )
        else:
            _adjoint_loop(
                rule, 2, si, st, Ahu, Phu, Qhu, Ph1, Qh1, ga, apr, aqr, abar, pbar, qbar, gap, gcp, gaq, gcq, lo, hi
            )

    ROWS_PER_TASK = 8
    BLOCKS = 64  # worker blocks of the backward kernels

    @njit(inline="always")
    def _cols(st, idx_row, buf, sparse):  # pragma: no cover - jitted
        """The presynaptic activity a row sees: all neurons, or its K partners (sparse variant)."""
        if not sparse:
            return st
        for m in range(buf.shape[0]):
            buf[m] = st[idx_row[m]]
        return buf

    @njit(parallel=True, cache=True, nogil=True, fastmath=_FAST)
    def hebbian_forward(
        s, P0, Q0, A0, ap, cp, aq, cq, rule, lo, hi, mode, Kt, Aseq, out, tok, P1, Q1, A1, idx, sparse, many
    ):  # pragma: no cover
        """Walk T steps for every row.

        mode 0 writes ``Aseq[b, h, t, i]``; mode 1 accumulates the readout of a group
        of ``ROWS_PER_TASK`` rows into ``out[b, h, group, t, :]`` (the caller sums the
        groups), so the partial sums take 1/ROWS_PER_TASK of a per-row buffer; mode 2
        writes every row's own readout ``tok[b, t, i, h*k:(h+1)*k]`` (tokens).  ``Kt`` is
        [H, R, k, K] with R = N (one table per row) or R = 1 (shared by every row).
        """
        B, T, N = s.shape
        H, K = ap.shape[0], ap.shape[2]  # K = N (dense) or the number of partners (sparse)
        G = (N + ROWS_PER_TASK - 1) // ROWS_PER_TASK
        nk = Kt.shape[2]
        shared = Kt.shape[1] == 1
        for task in prange(B * H * G):
            b = task // (H * G)
            h = (task // G) % H
            g = task % G
            buf = np.empty(K, dtype=np.float32)
            if mode == 1:
                out[b, h, g] = np.float32(0.0)
            for i in range(g * ROWS_PER_TASK, min(N, (g + 1) * ROWS_PER_TASK)):
                p = P0[b, h, i].copy()
                q = Q0[b, h, i].copy()
                a = A0[b, h, i].copy()
                apr, cpr, aqr, cqr = ap[h, i], cp[h, i], aq[h, i], cq[h, i]
                for t in range(T):
                    st = _cols(s[b, t], idx[i], buf, sparse)
                    _row_step(rule, st, s[b, t, i], apr, cpr, aqr, cqr, p, q, a, lo, hi, many[b, t])
                    if mode == 0:
                        Aseq[b, h, t, i] = a
                    elif mode == 1:
                        Kr = Kt[h, 0 if shared else i]
                        for k in range(nk):
                            acc = np.float32(0.0)
                            for j in range(K):
                                acc += a[j] * Kr[k, j]
                            out[b, h, g, t, k] += acc
                    else:
                        Kr = Kt[h, 0 if shared else i]
                        for k in range(nk):
                            acc = np.float32(0.0)
                            for j in range(K):
                                acc += a[j] * Kr[k, j]
                            tok[b, t, i, h * nk + k] = acc
                P1[b, h, i] = p
                Q1[b, h, i] = q
                A1[b, h, i] = a

    def segment_length(T: int, N: int = 0) -> int:
        """Checkpoint spacing of the backward pass.

        The whole history of a row (3 x (T+1) x N floats) when it fits in 1 MB (one
        pass, in cache); otherwise about sqrt(T) steps, so scratch stays O(sqrt(T) N).
        """
        if 12 * (T + 1) * N <= 1 << 20:
            return max(T, 1)
        return max(8, min(256, int(np.ceil(np.sqrt(max(T, 1))))))

    @njit(parallel=True, cache=True, nogil=True, fastmath=_FAST)
    def hebbian_backward(
        s,
        P0,
        Q0,
        A0,
        ap,
        cp,
        aq,
        cq,
        rule,
        lo,
        hi,
        mode,
        Kt,
        gAseq,
        gout,
        gtok,
        gP1,
        gQ1,
        gA1,
        gP0,
        gQ0,
        gA0,
        g_ap,
        g_cp,
        g_aq,
        g_cq,
        gK,
        S,
        one_step,
        idx,
        sparse,
        many,
    ):  # pragma: no cover - jitted
        """Reverse-time adjoint of ``hebbian_forward``; gradients of the chunk's inputs.

        ``gout`` [B, T, k] is the gradient of the summed readout (mode 1), ``gtok``
        [B, T, N, H*k] that of the tokens (mode 2).  Parameter gradients are written per
        batch element ([B, H, N, N]); gK per row ([B, H, N, k, K]) for per-row tables, or
        accumulated per worker block ([n_blocks(), H, 1, k, K], zeroed by the caller) for a
        shared table; the caller sums the first axis.
        """
        B, T, N = s.shape
        H, K = ap.shape[0], ap.shape[2]
        one = np.float32(1.0)
        zero = np.float32(0.0)
        n_rows = B * H * N
        n_blocks = min(n_rows, BLOCKS)
        shared = Kt.shape[1] == 1
        n_seg = (T + S - 1) // S
        for blk in prange(n_blocks):
            # scratch reused by every row of the block: segment-start checkpoints + one segment of history
            ckP = np.empty((n_seg, K), dtype=np.float32)
            ckQ = np.empty((n_seg, K), dtype=np.float32)
            ckA = np.empty((n_seg, K), dtype=np.float32)
            Ph = np.empty((S + 1, K), dtype=np.float32)
            Qh = np.empty((S + 1, K), dtype=np.float32)
            Ah = np.empty((S + 1, K), dtype=np.float32)
            buf = np.empty(K, dtype=np.float32)
            for r in range(blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks):
                b = r // (H * N)
                h = (r // N) % H
                i = r % N
                apr, cpr, aqr, cqr = ap[h, i], cp[h, i], aq[h, i], cq[h, i]
                # pass 1: the state at the start of every segment
                p = P0[b, h, i].copy()
                q = Q0[b, h, i].copy()
                a = A0[b, h, i].copy()
                ckP[0] = p
                ckQ[0] = q
                ckA[0] = a
                if n_seg > 1:
                    for t in range(T):
                        if t % S == 0:
                            ckP[t // S] = p
                            ckQ[t // S] = q
                            ckA[t // S] = a
                        _row_step(
                            rule,
                            _cols(s[b, t], idx[i], buf, sparse),
                            s[b, t, i],
                            apr,
                            cpr,
                            aqr,
                            cqr,
                            p,
                            q,
                            a,
                            lo,
                            hi,
                            many[b, t],
                        )
                pbar = gP1[b, h, i].copy()
                qbar = gQ1[b, h, i].copy()
                abar = gA1[b, h, i].copy()
                gap = np.zeros(K, dtype=np.float32)
                gcp = np.zeros(K, dtype=np.float32)
                gaq = np.zeros(K, dtype=np.float32)
                gcq = np.zeros(K, dtype=np.float32)
                ga = np.zeros(K, dtype=np.float32)
                nk = Kt.shape[2]
                gKr = np.zeros((nk, K), dtype=np.float32)
                for t in range(T - 1, -1, -1):
                    u = t % S  # history index within the segment: Ph[u] is the state before step t
                    if t == T - 1 or u == S - 1:  # entering a new segment (walking backwards): recompute it
                        t0 = t - u
                        Ph[0] = ckP[t0 // S]
                        Qh[0] = ckQ[t0 // S]
                        Ah[0] = ckA[t0 // S]
                        p[:] = Ph[0]
                        q[:] = Qh[0]
                        a[:] = Ah[0]
                        for tt in range(t0, t + 1):
                            _row_step(
                                rule,
                                _cols(s[b, tt], idx[i], buf, sparse),
                                s[b, tt, i],
                                apr,
                                cpr,
                                aqr,
                                cqr,
                                p,
                                q,
                                a,
                                lo,
                                hi,
                                many[b, tt],
                            )
                            Ph[tt - t0 + 1] = p
                            Qh[tt - t0 + 1] = q
                            Ah[tt - t0 + 1] = a
                    si = s[b, t, i]
                    st = _cols(s[b, t], idx[i], buf, sparse)
                    if one_step and t < T - 1:  # the state entering step t + 1 is a constant: no adjoint flows past it
                        pbar[:] = zero
                        qbar[:] = zero
                        abar[:] = zero
                    if mode == 0:
                        ga[:] = gAseq[b, h, t, i]
                    else:
                        Kr = Kt[h, 0 if shared else i]
                        ga[:] = zero
                        for k in range(nk):
                            gk = gout[b, t, k] if mode == 1 else gtok[b, t, i, h * nk + k]
                            for j in range(K):
                                ga[j] += gk * Kr[k, j]
                                gKr[k, j] += gk * Ah[u + 1, j]
                    if rule == 2:
                        for j in range(K):
                            aprev = Ah[u, j]
                            lam = apr[j]
                            drive = st[j] - si
                            v = lam * aprev + (one - lam) * drive
                            ab = abar[j] + ga[j]
                            if v < lo or v > hi:
                                ab = zero
                            gap[j] += ab * (aprev - drive)
                            abar[j] = ab * lam
                        continue
                    _adjoint_step(
                        rule,
                        many[b, t],
                        si,
                        st,
                        Ah[u],
                        Ph[u],
                        Qh[u],
                        Ph[u + 1],
                        Qh[u + 1],
                        ga,
                        apr,
                        aqr,
                        abar,
                        pbar,
                        qbar,
                        gap,
                        gcp,
                        gaq,
                        gcq,
                        lo,
                        hi,
                    )
                if one_step:  # ... nor past the chunk's initial state
                    pbar[:] = zero
                    qbar[:] = zero
                    abar[:] = zero
                gP0[b, h, i] = pbar
                gQ0[b, h, i] = qbar
                gA0[b, h, i] = abar
                g_ap[b, h, i] = gap
                g_cp[b, h, i] = gcp
                g_aq[b, h, i] = gaq
                g_cq[b, h, i] = gcq
                if mode != 0:
                    if shared:
                        gK[blk, h, 0] += gKr
                    else:
                        gK[b, h, i] = gKr
else:  # pragma: no cover
    ROWS_PER_TASK = 8
    BLOCKS = 64

    def segment_length(T: int, N: int = 0) -> int:
        return max(T, 1)


# --------------------------------------------------------------------------------------
# Event-driven kernels for sparse spike trains (rules 0, 1, 3; fused readout only).
#
# Between two events of a pair (i, j) - a spike of i or of j - the attention A_ij does
# not change and the traces only decay geometrically, so the step-by-step recurrence
# can jump: P <- P a^n.  The readout sum_j A_ij K_j is kept incrementally.  In the
# backward pass the adjoints over an idle stretch have closed forms too: the readout
# gradient summed over the stretch comes from prefix sums of the output gradient, and
# sum_t pbar(t) P(t-1) is n pbar P a^(n-1) because both factors are geometric.  Work per
# row is O(T + events x K) instead of O(T x K): about 20x less at 1 ms bins and 20 Hz.
# Same numbers as the dense kernels to float rounding (tested against the reference).
# --------------------------------------------------------------------------------------
if HAVE_NUMBA:

    @njit(inline="always", fastmath=_FAST)
    def _quiet_row_update(rule, kind, sj, p, q, a, apj, cpj, aqj, lo, hi):  # pragma: no cover - jitted
        """One step of a single pair when only the presynaptic j fires (s_i = 0): returns (p, q, a)."""
        one = np.float32(1.0)
        pj = apj * p + cpj * sj
        qj = aqj * q
        if rule == 1:
            return pj, qj, a - sj * min(qj, one)
        if kind == 0:  # noqa: SIM108 - literal kinds for numba: the 0/1 case without branches
            qe = _rate(0, qj, sj)[0]
        else:
            qe = _rate(2, qj, sj)[0]
        v = a * (one - qe) if rule == 0 else one - (one - a) * (one - qe)
        return pj, qj, min(max(v, lo), hi)

    @njit(inline="always", fastmath=_FAST)
    def _catch_up(j, t, tl, p, q, lap, laq):  # pragma: no cover - jitted
        """Decay pair j's traces over its idle steps up to t - 1 (closed form) and mark it current at t."""
        n = t - 1 - tl[j]
        if n > 0:
            p[j] *= np.exp(np.float32(n) * lap[j])
            q[j] *= np.exp(np.float32(n) * laq[j])
        tl[j] = t

    @njit(inline="always", fastmath=_FAST)
    def _readout(a, Kr, r):  # pragma: no cover - jitted
        """r = Kr @ a (``Kr`` [k, K])."""
        for k in range(r.shape[0]):
            acc = np.float32(0.0)
            for j in range(a.shape[0]):
                acc += a[j] * Kr[k, j]
            r[k] = acc

    @njit(inline="always", fastmath=_FAST)
    def _record(E, t, j, p, q, a, last, recT, recJ, recP, recQ, recA, recPrev):  # pragma: no cover - jitted
        """Store pair j's state after its event at t (linked to its previous event); returns E + 1."""
        recT[E] = t
        recJ[E] = j
        recP[E] = p[j]
        recQ[E] = q[j]
        recA[E] = a[j]
        recPrev[E] = last[j]
        last[j] = E
        return E + 1

    @njit(inline="always", fastmath=_FAST)
    def _idle_adjoint(
        j, n, t_from, t_to, p_start, q_start, a_const, Kr, Gr, apr, aqr, lap, laq, abar, pbar, qbar, gap, gaq, gKr
    ):  # pragma: no cover - jitted
        """Adjoints over n idle steps of pair j (bins t_from .. t_to - 1) in closed form (``Gr``: the
        row's prefix sums of the readout gradient over time)."""
        for k in range(Kr.shape[1]):
            dG = Gr[t_to, k] - Gr[t_from, k]
            abar[j] += Kr[j, k] * dG
            gKr[j, k] += a_const * dG
        fp = np.exp(np.float32(n - 1) * lap[j])
        fq = np.exp(np.float32(n - 1) * laq[j])
        gap[j] += np.float32(n) * pbar[j] * p_start * fp
        gaq[j] += np.float32(n) * qbar[j] * q_start * fq
        pbar[j] *= fp * apr[j]
        qbar[j] *= fq * aqr[j]

    @njit(parallel=True, cache=True, nogil=True, fastmath=_FAST)
    def hebbian_forward_events(
        s, P0, Q0, A0, ap, cp, aq, cq, rule, lo, hi, mode, Kt, Kp, out, tok, P1, Q1, A1, indptr, cols, many
    ):  # pragma: no cover - jitted
        """Readout forward (mode 1: summed, mode 2: tokens; as ``hebbian_forward``) for sparse input;
        ``indptr``/``cols`` list the firing neurons of every (b, t) (CSR over b*T + t).  ``Kp`` is ``Kt``
        pair-major, [H, R, K, k]: an event of one pair reads its k-vector."""
        B, T, N = s.shape
        H = ap.shape[0]
        G = (N + ROWS_PER_TASK - 1) // ROWS_PER_TASK
        nk = Kt.shape[2]
        shared = Kt.shape[1] == 1
        for task in prange(B * H * G):
            b = task // (H * G)
            h = (task // G) % H
            g = task % G
            if mode == 1:
                out[b, h, g] = np.float32(0.0)
            tl = np.empty(N, dtype=np.int64)
            r = np.empty(nk, dtype=np.float32)
            for i in range(g * ROWS_PER_TASK, min(N, (g + 1) * ROWS_PER_TASK)):
                p = P0[b, h, i].copy()
                q = Q0[b, h, i].copy()
                a = A0[b, h, i].copy()
                apr, cpr, aqr, cqr = ap[h, i], cp[h, i], aq[h, i], cq[h, i]
                lap = np.log(apr)
                laq = np.log(aqr)
                Kr = Kt[h, 0 if shared else i]
                Kpr = Kp[h, 0 if shared else i]
                tl[:] = -1
                _readout(a, Kr, r)
                for t in range(T):
                    si = s[b, t, i]
                    if si != 0:
                        for j in range(N):
                            _catch_up(j, t, tl, p, q, lap, laq)
                        _row_step(rule, s[b, t], si, apr, cpr, aqr, cqr, p, q, a, lo, hi, many[b, t])
                        _readout(a, Kr, r)
                    else:
                        for e in range(indptr[b * T + t], indptr[b * T + t + 1]):
                            j = cols[e]
                            _catch_up(j, t, tl, p, q, lap, laq)
                            old = a[j]
                            p[j], q[j], a[j] = _quiet_row_update(
                                rule, many[b, t], s[b, t, j], p[j], q[j], a[j], apr[j], cpr[j], aqr[j], lo, hi
                            )
                            d = a[j] - old
                            for k in range(nk):
                                r[k] += d * Kpr[j, k]
                    if mode == 1:
                        for k in range(nk):
                            out[b, h, g, t, k] += r[k]
                    else:
                        for k in range(nk):
                            tok[b, t, i, h * nk + k] = r[k]
                for j in range(N):
                    _catch_up(j, T, tl, p, q, lap, laq)
                P1[b, h, i] = p
                Q1[b, h, i] = q
                A1[b, h, i] = a

    @njit(parallel=True, cache=True, nogil=True, fastmath=_FAST)
    def hebbian_backward_events(
        s,
        P0,
        Q0,
        A0,
        ap,
        cp,
        aq,
        cq,
        rule,
        lo,
        hi,
        mode,
        Kt,
        gout,
        gtok,
        gP1,
        gQ1,
        gA1,
        gP0,
        gQ0,
        gA0,
        g_ap,
        g_cp,
        g_aq,
        g_cq,
        gK,
        indptr,
        cols,
        Gc,
        many,
    ):  # pragma: no cover - jitted
        """Adjoint of ``hebbian_forward_events`` (gradients as in ``hebbian_backward``, gK pair-major
        [.., K, k] like ``Kt``).  Mode 1: ``Gc``
        [B, T+1, k] holds the prefix sums of ``gout`` over time; mode 2 forms each row's own from ``gtok``."""
        B, T, N = s.shape
        H = ap.shape[0]
        n_rows = B * H * N
        n_blocks = min(n_rows, BLOCKS)
        nk = Kt.shape[3]
        shared = Kt.shape[1] == 1
        for blk in prange(n_blocks):
            g_row = np.empty((T if mode == 2 else 0, nk), dtype=np.float32)
            G_row = np.zeros((T + 1 if mode == 2 else 0, nk), dtype=np.float32)
            tl = np.empty(N, dtype=np.int64)
            last = np.empty(N, dtype=np.int64)
            tn = np.empty(N, dtype=np.int64)
            pbar = np.empty(N, dtype=np.float32)
            qbar = np.empty(N, dtype=np.float32)
            abar = np.empty(N, dtype=np.float32)
            gap = np.empty(N, dtype=np.float32)
            gcp = np.empty(N, dtype=np.float32)
            gaq = np.empty(N, dtype=np.float32)
            gcq = np.empty(N, dtype=np.float32)
            gKr = np.empty((N, nk), dtype=np.float32)
            cap = 0
            recT = np.empty(0, dtype=np.int64)
            recJ = np.empty(0, dtype=np.int64)
            recPrev = np.empty(0, dtype=np.int64)
            recP = np.empty(0, dtype=np.float32)
            recQ = np.empty(0, dtype=np.float32)
            recA = np.empty(0, dtype=np.float32)
            for rr in range(blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks):
                b = rr // (H * N)
                h = (rr // N) % H
                i = rr % N
                apr, cpr, aqr, cqr = ap[h, i], cp[h, i], aq[h, i], cq[h, i]
                lap = np.log(apr)
                laq = np.log(aqr)
                Kr = Kt[h, 0 if shared else i]
                if mode == 1:
                    gr = gout[b]
                    Gr = Gc[b]
                else:  # this row's token gradient and its prefix sums over time
                    for t in range(T):
                        for k in range(nk):
                            g_row[t, k] = gtok[b, t, i, h * nk + k]
                            G_row[t + 1, k] = G_row[t, k] + g_row[t, k]
                    gr = g_row
                    Gr = G_row
                # ---- forward recompute, recording every pair event
                n_row_events = 0
                for t in range(T):
                    if s[b, t, i] != 0:
                        n_row_events += 1
                need = n_row_events * N + (indptr[b * T + T] - indptr[b * T])
                if need > cap:
                    cap = max(need, 2 * cap)
                    recT = np.empty(cap, dtype=np.int64)
                    recJ = np.empty(cap, dtype=np.int64)
                    recPrev = np.empty(cap, dtype=np.int64)
                    recP = np.empty(cap, dtype=np.float32)
                    recQ = np.empty(cap, dtype=np.float32)
                    recA = np.empty(cap, dtype=np.float32)
                p = P0[b, h, i].copy()
                q = Q0[b, h, i].copy()
                a = A0[b, h, i].copy()
                tl[:] = -1
                last[:] = -1
                E = 0
                for t in range(T):
                    si = s[b, t, i]
                    if si != 0:
                        for j in range(N):
                            _catch_up(j, t, tl, p, q, lap, laq)
                        _row_step(rule, s[b, t], si, apr, cpr, aqr, cqr, p, q, a, lo, hi, many[b, t])
                        for j in range(N):
                            E = _record(E, t, j, p, q, a, last, recT, recJ, recP, recQ, recA, recPrev)
                    else:
                        for e in range(indptr[b * T + t], indptr[b * T + t + 1]):
                            j = cols[e]
                            _catch_up(j, t, tl, p, q, lap, laq)
                            p[j], q[j], a[j] = _quiet_row_update(
                                rule, many[b, t], s[b, t, j], p[j], q[j], a[j], apr[j], cpr[j], aqr[j], lo, hi
                            )
                            E = _record(E, t, j, p, q, a, last, recT, recJ, recP, recQ, recA, recPrev)
                # ---- reverse over events; idle stretches in closed form
                pbar[:] = gP1[b, h, i]
                qbar[:] = gQ1[b, h, i]
                abar[:] = gA1[b, h, i]
                gap[:] = 0.0
                gcp[:] = 0.0
                gaq[:] = 0.0
                gcq[:] = 0.0
                gKr[:] = 0.0
                tn[:] = T
                for e in range(E - 1, -1, -1):
                    t = recT[e]
                    j = recJ[e]
                    n = tn[j] - t - 1  # idle steps t+1 .. tn-1 after this event
                    if n > 0:
                        _idle_adjoint(
                            j,
                            n,
                            t + 1,
                            tn[j],
                            recP[e],
                            recQ[e],
                            recA[e],
                            Kr,
                            Gr,
                            apr,
                            aqr,
                            lap,
                            laq,
                            abar,
                            pbar,
                            qbar,
                            gap,
                            gaq,
                            gKr,
                        )
                    prev = recPrev[e]
                    if prev >= 0:
                        tp = recT[prev]
                        p0 = recP[prev]
                        q0 = recQ[prev]
                        aprev = recA[prev]
                    else:
                        tp = -1
                        p0 = P0[b, h, i, j]
                        q0 = Q0[b, h, i, j]
                        aprev = A0[b, h, i, j]
                    m = t - 1 - tp
                    pprev = p0 * np.exp(np.float32(m) * lap[j]) if m > 0 else p0
                    qprev = q0 * np.exp(np.float32(m) * laq[j]) if m > 0 else q0
                    ga = np.float32(0.0)
                    for k in range(nk):
                        gk = gr[t, k]
                        ga += gk * Kr[j, k]
                        gKr[j, k] += gk * recA[e]
                    si = s[b, t, i]
                    sj = s[b, t, j]
                    if many[b, t] == 0:  # literal kind: the 0/1 case without branches
                        ab, pb, qb = _pair_adjoint(
                            rule, 0, si, sj, aprev, recP[e], recQ[e], abar[j] + ga, pbar[j], qbar[j], lo, hi
                        )
                    else:
                        ab, pb, qb = _pair_adjoint(
                            rule, 2, si, sj, aprev, recP[e], recQ[e], abar[j] + ga, pbar[j], qbar[j], lo, hi
                        )
                    abar[j] = ab
                    gap[j] += pb * pprev
                    gcp[j] += pb * sj
                    gaq[j] += qb * qprev
                    gcq[j] += qb * si
                    pbar[j] = pb * apr[j]
                    qbar[j] = qb * aqr[j]
                    tn[j] = t
                for j in range(N):  # idle steps 0 .. tn-1 before the first event
                    n = tn[j]
                    if n > 0:
                        _idle_adjoint(
                            j,
                            n,
                            0,
                            tn[j],
                            P0[b, h, i, j],
                            Q0[b, h, i, j],
                            A0[b, h, i, j],
                            Kr,
                            Gr,
                            apr,
                            aqr,
                            lap,
                            laq,
                            abar,
                            pbar,
                            qbar,
                            gap,
                            gaq,
                            gKr,
                        )
                gP0[b, h, i] = pbar
                gQ0[b, h, i] = qbar
                gA0[b, h, i] = abar
                g_ap[b, h, i] = gap
                g_cp[b, h, i] = gcp
                g_aq[b, h, i] = gaq
                g_cq[b, h, i] = gcq
                if shared:
                    gK[blk, h, 0] += gKr
                else:
                    gK[b, h, i] = gKr
