"""Loss functions. Input and target shapes must match exactly where PyTorch would
broadcast with a warning (a silent broadcast trains the wrong model); class
indices are range-checked. With ``ember.nn.set_detect_nonfinite(True)`` every
loss raises ``FloatingPointError`` when its value is NaN or infinite."""

from __future__ import annotations

import numpy as np

import ember as E
from ember._tensor import Tensor, _wrap
from ember.nn import _config
from ember.nn.functional import _prim
from ember.nn.functional._activation import log_softmax

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "cosine_similarity",
    "pairwise_distance",
    "triplet_margin_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


def _finish(loss: Tensor, reduction: str, who: str) -> Tensor:
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return _checked(loss, who)


def _checked(loss: Tensor, who: str) -> Tensor:
    if _config._detect_nonfinite[0] and not np.isfinite(loss._a).all():
        raise FloatingPointError(
            f"{who}: the loss is not finite ({loss.detach().numpy().ravel()[:4].tolist()}...); "
            "check the inputs and the learning rate"
        )
    return loss


def _reduction(reduction: str, who: str, extra=()) -> None:
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(
            f"{who}: reduction must be one of {_REDUCTIONS + tuple(extra)}, got {reduction!r}"
        )


def _same_shape(input: Tensor, target: Tensor, who: str) -> None:
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{who}: input and target must be Tensors")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{who}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} "
            "differ; make them equal (ember never broadcasts a loss's target)"
        )


def _pointwise(input, target, reduction, who, fn) -> Tensor:
    _reduction(reduction, who)
    _same_shape(input, target, who)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return _finish(fn(input - target), reduction, who)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean squared error; ``input`` and ``target`` must have the same shape."""
    return _pointwise(input, target, reduction, "mse_loss", lambda d: d * d)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error."""
    return _pointwise(input, target, reduction, "l1_loss", E.abs)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)

    def f(d):
        a = E.abs(d)
        return E.where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)

    return _pointwise(input, target, reduction, "smooth_l1_loss", f)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")

    def f(d):
        a = E.abs(d)
        return E.where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)

    return _pointwise(input, target, reduction, "huber_loss", f)


def _check_classes(input: Tensor, target: Tensor, ignore_index: int, who: str) -> int:
    if input.dim() == 0:
        raise ValueError(f"{who}: input must be (C,), (N, C) or (N, C, d1, ...), got a scalar")
    c = input.shape[0] if input.dim() == 1 else input.shape[1]
    want = () if input.dim() == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != want:
        raise ValueError(
            f"{who}: expected target of shape {want} for input of shape {tuple(input.shape)}, "
            f"got {tuple(target.shape)}"
        )
    t = target._a
    if t.size:
        bad = (t != ignore_index) & ((t < 0) | (t >= c))
        if bad.any():
            raise IndexError(
                f"{who}: target {int(t[bad].ravel()[0])} is out of bounds for {c} classes "
                f"(valid: 0..{c - 1}, or ignore_index={ignore_index})"
            )
    return c


def _check_weight(weight, c: int, who: str) -> None:
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"{who}: weight must have shape ({c},), got {tuple(weight.shape)}")


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: ``-input[n, target[n]]`` (weighted), for log-probabilities
    (N, C, ...) and class indices (N, ...)."""
    _reduction(reduction, "nll_loss")
    if target._a.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices, got {target.dtype}")
    c = _check_classes(input, target, ignore_index, "nll_loss")
    _check_weight(weight, c, "nll_loss")
    return _checked(_prim.nll_loss(input, target, weight, ignore_index, reduction), "nll_loss")


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy of logits ``input`` (N, C, ...) against class indices (N, ...) or
    class probabilities (same shape as input); ``label_smoothing`` mixes the target
    with the uniform distribution."""
    who = "cross_entropy"
    _reduction(reduction, who)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{who}: label_smoothing must be in [0, 1], got {label_smoothing}")
    cdim = 0 if input.dim() == 1 else 1
    logp = log_softmax(input, cdim)
    c = input.shape[cdim]
    _check_weight(weight, c, who)
    wshape = (c,) + (1,) * (input.dim() - cdim - 1)
    if target.is_floating_point():  # class probabilities
        _same_shape(input, target, who)
        t = target.to(input.dtype)
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / c
        prod = logp * t if weight is None else logp * t * weight.reshape(wshape)
        loss = -prod.sum(cdim)
        return _finish(loss, reduction, who)
    c = _check_classes(input, target, ignore_index, who)
    nll = _prim.nll_loss(logp, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return _checked(nll, who)
    # the smoothing term: -sum_c w_c logp_c / C per sample, zero where ignored
    lw = logp if weight is None else logp * weight.reshape(wshape)
    smooth = -lw.sum(cdim) / c
    valid = _wrap((target._a != ignore_index).astype(input._a.dtype))  # target's device
    smooth = smooth * valid
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        t = np.where(target._a != ignore_index, target._a, 0)
        denom = valid._a.sum() if weight is None else (weight._a[t] * valid._a).sum()
        smooth = smooth.sum() / _wrap(denom)  # a 0-d tensor: no sync to read it
    return _checked(nll * (1 - label_smoothing) + smooth * label_smoothing, who)


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight=None, size_average=None, reduce=None, reduction="mean"
) -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) for probabilities ``input`` in [0, 1]; the
    logs are clamped at -100 as in PyTorch."""
    who = "binary_cross_entropy"
    _reduction(reduction, who)
    _same_shape(input, target, who)
    a = input._a
    if a.size and (a.min() < 0 or a.max() > 1):
        raise ValueError(f"{who}: all input elements must be between 0 and 1")
    t = target.to(input.dtype)
    loss = -(
        t * E.clamp(E.log(input), min=-100.0) + (1 - t) * E.clamp(E.log(1 - input), min=-100.0)
    )
    if weight is not None:
        loss = loss * weight
    return _finish(loss, reduction, who)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight=None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight=None,
) -> Tensor:
    """Sigmoid + binary cross entropy in one numerically stable expression;
    ``pos_weight`` weighs the positive term (broadcast along the last dim)."""
    who = "binary_cross_entropy_with_logits"
    _reduction(reduction, who)
    _same_shape(input, target, who)
    t = target.to(input.dtype)
    # log(1 + exp(-|x|)) + max(-x, 0) = -log(sigmoid(x))
    log_sig_neg = E.log1p(E.exp(-E.abs(input))) + E.relu(-input)
    if pos_weight is not None:
        lw = (pos_weight - 1) * t + 1
        loss = (1 - t) * input + lw * log_sig_neg
    else:
        loss = (1 - t) * input + log_sig_neg
    if weight is not None:
        loss = loss * weight
    return _finish(loss, reduction, who)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: ``target * (log target - input)``; use
    ``reduction='batchmean'`` for the mathematical KL divergence."""
    who = "kl_div"
    _reduction(reduction, who, ("batchmean",))
    _same_shape(input, target, who)
    if log_target:
        loss = E.exp(target) * (target - input)
    else:
        safe = E.where(target > 0, target, 1.0)
        loss = E.where(target > 0, target * (E.log(safe) - input), 0.0)
    if reduction == "batchmean":
        n = input.shape[0] if input.dim() else 1
        return _checked(loss.sum() / n, who)
    return _finish(loss, reduction, who)


def _pm1(target: Tensor, who: str) -> None:
    a = target._a
    if a.size and not np.isin(a, (-1, 1)).all():
        raise ValueError(f"{who}: target values must be 1 or -1")


def margin_ranking_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
) -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    who = "margin_ranking_loss"
    _reduction(reduction, who)
    _same_shape(input1, input2, who)
    _same_shape(input1, target, who)
    return _finish(E.relu(-target * (input1 - input2) + margin), reduction, who)


def hinge_embedding_loss(
    input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"
) -> Tensor:
    """x where target == 1, max(0, margin - x) where target == -1."""
    who = "hinge_embedding_loss"
    _reduction(reduction, who)
    _same_shape(input, target, who)
    _pm1(target, who)
    loss = E.where(target == 1, input, E.relu(margin - input))
    return _finish(loss, reduction, who)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``."""
    n1 = E.clamp(E.sqrt((x1 * x1).sum(dim)), min=eps)
    n2 = E.clamp(E.sqrt((x2 * x2).sum(dim)), min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def cosine_embedding_loss(
    input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"
) -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where -1."""
    who = "cosine_embedding_loss"
    _reduction(reduction, who)
    _same_shape(input1, input2, who)
    want = tuple(input1.shape[:-1])
    if tuple(target.shape) != want:
        raise ValueError(f"{who}: expected target of shape {want}, got {tuple(target.shape)}")
    _pm1(target, who)
    cos = cosine_similarity(input1, input2, -1, 1e-12)
    loss = E.where(target == 1, 1 - cos, E.relu(cos - margin))
    return _finish(loss, reduction, who)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``||x1 - x2 + eps||_p`` along the last dim."""
    d = x1 - x2 + eps
    if p == 2.0:
        return E.sqrt((d * d).sum(-1, keepdim=keepdim))
    return (E.abs(d) ** p).sum(-1, keepdim=keepdim) ** (1.0 / p)


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2.0,
    eps=1e-6,
    swap=False,
    size_average=None,
    reduce=None,
    reduction="mean",
) -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the p-norm distance."""
    who = "triplet_margin_loss"
    _reduction(reduction, who)
    _same_shape(anchor, positive, who)
    _same_shape(anchor, negative, who)
    if margin <= 0:
        raise ValueError(f"{who}: margin must be positive, got {margin}")
    dp = pairwise_distance(anchor, positive, p, eps)
    dn = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dn = E.minimum(dn, pairwise_distance(positive, negative, p, eps))
    return _finish(E.relu(dp - dn + margin), reduction, who)
