"""Connectionist temporal classification loss (Graves et al., 2006).

Forward: the alpha recursion over the blank-extended target ``l'`` (blank, l1,
blank, l2, ..., blank), in log space, vectorized over the batch with numpy.
Backward: the beta recursion; the gradient with respect to ``log_probs[t, n, k]``
is ``-sum_{s: l'_s = k} exp(alpha_t(s) + beta_t(s) - log_probs[t, n, l'_s]) / p(l | x)``.

This is the derivative with respect to ``log_probs`` as free variables. PyTorch's
kernel returns ``exp(log_probs)`` plus this, which equals it once propagated
through the ``log_softmax`` that produces ``log_probs`` (the extra term sums to
zero there), so gradients of the logits agree with PyTorch's.
"""

from __future__ import annotations

import numpy as np

from ember._ops._dispatch import result
from ember._tensor import Tensor, _wrap

__all__ = ["ctc_loss"]

_NEG = -np.inf


def _lse(*xs):
    m = xs[0]
    for x in xs[1:]:
        m = np.maximum(m, x)
    safe = np.where(np.isfinite(m), m, 0.0)
    s = sum(np.exp(x - safe) for x in xs)
    with np.errstate(divide="ignore"):
        return np.log(s) + safe


def _shift(a, k):
    """``a`` shifted right by ``k`` along the last axis, -inf filled."""
    out = np.full_like(a, _NEG)
    out[..., k:] = a[..., :-k]
    return out


def _extended(targets: np.ndarray, tlen: np.ndarray, blank: int):
    """(N, 2*Smax+1) blank-extended targets and the skip-allowed mask."""
    n = len(tlen)
    smax = int(tlen.max()) if n else 0
    if targets.ndim == 1:  # concatenated targets -> padded
        padded = np.full((n, max(smax, 1)), blank, np.int64)
        off = np.concatenate(([0], np.cumsum(tlen)))
        for i in range(n):
            padded[i, : tlen[i]] = targets[off[i] : off[i + 1]]
        targets = padded
    ext = np.full((n, 2 * smax + 1), blank, np.int64)
    ext[:, 1::2] = targets[:, :smax]
    pos = np.arange(2 * smax + 1)
    ext[:, 1::2] = np.where(pos[1::2][None] < 2 * tlen[:, None], ext[:, 1::2], blank)
    skip = np.zeros(ext.shape, bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, skip


def _alpha(lpx, skip, ilen, lext):
    t_max, n, lmax = lpx.shape
    pos = np.arange(lmax)[None]
    alpha = np.full((t_max, n, lmax), _NEG)
    a0 = np.where(pos < np.minimum(2, lext)[:, None], lpx[0], _NEG)
    alpha[0] = a0
    for t in range(1, t_max):
        prev = alpha[t - 1]
        rec = _lse(prev, _shift(prev, 1), np.where(skip, _shift(prev, 2), _NEG)) + lpx[t]
        rec = np.where(pos < lext[:, None], rec, _NEG)
        alpha[t] = np.where((t < ilen)[:, None], rec, prev)
    return alpha


def _beta(lpx, skip, ilen, lext):
    t_max, n, lmax = lpx.shape
    pos = np.arange(lmax)[None]
    beta = np.full((t_max + 1, n, lmax), _NEG)
    last = (pos == (lext - 1)[:, None]) | (pos == (lext - 2)[:, None])
    skip_next = np.zeros_like(skip)
    skip_next[:, :-2] = skip[:, 2:]  # may s jump to s + 2?
    for t in range(t_max - 1, -1, -1):
        nxt = beta[t + 1]
        rec = _lse(
            nxt,
            _shift(nxt[..., ::-1], 1)[..., ::-1],
            np.where(skip_next, _shift(nxt[..., ::-1], 2)[..., ::-1], _NEG),
        )
        rec = rec + lpx[t]
        init = np.where(last, lpx[t], _NEG)
        beta[t] = np.where(
            (t == ilen - 1)[:, None], init, np.where((t < ilen - 1)[:, None], rec, _NEG)
        )
    return beta[:t_max]


def _check(lp, targets, ilen, tlen, blank):
    if lp.ndim != 3:
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got {lp.shape}")
    t_max, n, c = lp.shape
    if not 0 <= blank < c:
        raise ValueError(f"ctc_loss: blank={blank} is not a class index in [0, {c})")
    if ilen.shape != (n,) or tlen.shape != (n,):
        raise RuntimeError(
            f"ctc_loss: expected input_lengths and target_lengths of shape ({n},), got "
            f"{ilen.shape} and {tlen.shape}"
        )
    if (ilen > t_max).any() or (ilen < 0).any():
        raise RuntimeError(
            f"ctc_loss: input_lengths must be in [0, {t_max}] (the T of log_probs), got "
            f"{ilen.tolist()}"
        )
    if targets.ndim == 2 and (targets.shape[0] != n or (tlen > targets.shape[1]).any()):
        raise RuntimeError(
            f"ctc_loss: targets of shape {targets.shape} do not fit batch {n} with "
            f"target_lengths {tlen.tolist()}"
        )
    if targets.ndim == 1 and targets.shape[0] != tlen.sum():
        raise RuntimeError(
            f"ctc_loss: 1-D targets must hold sum(target_lengths)={int(tlen.sum())} labels, "
            f"got {targets.shape[0]}"
        )
    if (tlen < 0).any():
        raise RuntimeError(f"ctc_loss: negative target length in {tlen.tolist()}")


def _ints(x) -> np.ndarray:
    a = x._a if isinstance(x, Tensor) else np.asarray(x)
    return np.asarray(a, np.int64).reshape(-1) if a.ndim <= 1 else np.asarray(a, np.int64)


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """CTC loss of ``log_probs`` (T, N, C) (log-softmax outputs; (T, C) unbatched)
    against ``targets`` ((N, S) padded or 1-D concatenated) with per-sample
    ``input_lengths`` and ``target_lengths``. ``reduction``: 'none' (N,), 'sum', or
    'mean' (each loss divided by its target length, then averaged).
    ``zero_infinity`` turns impossible alignments' infinite losses (and their
    gradients) into zeros."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"ctc_loss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    lp = log_probs._a
    unbatched = lp.ndim == 2
    tg = _ints(targets)
    ilen, tlen = _ints(input_lengths), _ints(target_lengths)
    if unbatched:
        lp, tg = lp[:, None], tg.reshape(1, -1) if tg.ndim == 1 else tg
        ilen, tlen = ilen.reshape(1), tlen.reshape(1)
    _check(lp, tg, ilen, tlen, blank)
    lp64 = lp.astype(np.float64)
    ext, skip = _extended(tg, tlen, blank)
    labels = ext[:, 1::2][np.arange(ext.shape[1] // 2)[None] < tlen[:, None]]
    if labels.size and (labels.min() < 0 or labels.max() >= lp.shape[2] or (labels == blank).any()):
        raise ValueError(
            f"ctc_loss: target labels must be class indices in [0, {lp.shape[2]}) other than "
            f"blank={blank}, got {sorted(set(labels.tolist()))}"
        )
    lext = 2 * tlen + 1
    lpx = np.take_along_axis(lp64, np.broadcast_to(ext[None], (lp.shape[0],) + ext.shape), 2)
    alpha = _alpha(lpx, skip, ilen, lext)
    n = len(ilen)
    t_last = np.maximum(ilen - 1, 0)
    fin = alpha[t_last, np.arange(n)]
    last = np.take_along_axis(fin, (lext - 1)[:, None], 1)[:, 0]
    prev = np.where(
        lext >= 2, np.take_along_axis(fin, np.maximum(lext - 2, 0)[:, None], 1)[:, 0], _NEG
    )
    nll = -_lse(last, prev)
    inf = ~np.isfinite(nll)
    if zero_infinity:
        nll = np.where(inf, 0.0, nll)
    div = np.maximum(tlen, 1).astype(np.float64)
    if reduction == "none":
        out = nll if not unbatched else nll.reshape(())
        coef = None
    elif reduction == "sum":
        out, coef = nll.sum(), np.ones(n)
    else:
        out, coef = (nll / div).mean(), 1.0 / div / n
    out = np.asarray(out, lp.dtype)
    params = None
    if log_probs.requires_grad:
        beta = _beta(lpx, skip, ilen, lext)
        with np.errstate(invalid="ignore", over="ignore"):
            post = np.exp(alpha + beta - lpx + nll[None, :, None])
        post = np.where(np.isfinite(post), post, 0.0)
        if zero_infinity:
            post[:, inf] = 0.0
        t_idx = np.arange(lp.shape[0])[:, None, None]
        n_idx = np.arange(n)[None, :, None]
        flat = ((t_idx * n + n_idx) * lp.shape[2] + ext[None]).ravel()
        g = -np.bincount(flat, weights=post.ravel(), minlength=lp.size).reshape(lp.shape)
        params = (g.astype(lp.dtype), coef, unbatched)
    return result(out, (log_probs,), "ctc_loss", params)


def ctc_loss_grad(ctx, gy):
    """Derivative of :func:`ctc_loss` with respect to ``log_probs``.

    The gradient is a numpy alpha-beta computation, so it is differentiable once
    (PyTorch's ``_ctc_loss_backward`` has no derivative either): with
    ``create_graph=True`` the gradient is recorded as a ``ctc_loss_backward`` node
    whose own backward raises a RuntimeError naming ctc_loss, instead of passing
    for a constant and giving silently wrong second derivatives."""
    g, coef, unbatched = ctx.params
    ga = gy._a
    if coef is None:  # reduction 'none': one incoming gradient per sample
        scale = ga.reshape(1, -1, 1)
    else:
        scale = (coef * ga).reshape(1, -1, 1)
    gx = g * scale.astype(g.dtype)
    gx = gx[:, 0] if unbatched else gx
    if ctx.create_graph:
        return (result(gx, (ctx.inputs[0], gy), "ctc_loss_backward"),)
    return (_wrap(gx),)
