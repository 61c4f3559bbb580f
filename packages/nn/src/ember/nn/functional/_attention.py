"""Attention: ``scaled_dot_product_attention`` and the multi-head attention forward.

Both are compositions of differentiable ember ops (batched matmul, the fused
softmax, dropout), so their gradients need no formula of their own; the
matrix products dominate the cost anyway.
"""

from __future__ import annotations

import math

import numpy as np

import ember as E
from ember._tensor import Tensor, _wrap
from ember.nn.functional._activation import softmax
from ember.nn.functional._dropout import dropout
from ember.nn.functional._linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _as_additive(mask: Tensor, dtype, allowed_is_true: bool) -> Tensor:
    """A boolean mask as 0 / -inf (``allowed_is_true``: True keeps a position, as in
    SDPA; else True removes it, as in MultiheadAttention); float masks pass as is."""
    if mask.dtype == E.bool:
        drop = ~mask._a if allowed_is_true else mask._a
        add = np.where(drop, -np.inf, 0.0).astype(E._dtype.to_numpy_dtype(dtype))
        return _wrap(add)  # on the mask's device (np.where dispatches to CuPy there)
    if not mask.is_floating_point():
        raise TypeError(f"attention masks must be bool or floating point, got {mask.dtype}")
    return mask.to(dtype)


def _causal(lq: int, ls: int, dtype, device) -> Tensor:
    # -inf above the diagonal, 0 elsewhere, built where the scores live
    return E.full((lq, ls), -np.inf, dtype=dtype, device=device).triu(1)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` with query (..., L, E), key (..., S, E),
    value (..., S, Ev) -> (..., L, Ev). ``attn_mask`` broadcasts to (..., L, S): bool
    (True = may attend) or float (added). ``is_causal`` masks keys after each query
    (upper-left aligned). ``scale`` defaults to 1/sqrt(E). Dropout ``dropout_p`` is
    applied to the attention weights (always, as in PyTorch: pass 0 in eval)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.dim() < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} must be at least 2-D")
    lq, e = query.shape[-2], query.shape[-1]
    ls = key.shape[-2]
    if key.shape[-1] != e or value.shape[-2] != ls:
        raise RuntimeError(
            "scaled_dot_product_attention: expected query (..., L, E), key (..., S, E), value "
            f"(..., S, Ev); got query {tuple(query.shape)}, key {tuple(key.shape)}, value "
            f"{tuple(value.shape)}"
        )
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    s = 1.0 / math.sqrt(e) if scale is None else float(scale)
    scores = E.matmul(query * s, key.transpose(-2, -1))
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "scaled_dot_product_attention: pass attn_mask or is_causal, not both"
            )
        scores = scores + _causal(lq, ls, scores.dtype, scores.device)
    elif attn_mask is not None:
        m = _as_additive(attn_mask, scores.dtype, allowed_is_true=True)
        try:
            np.broadcast_shapes(tuple(m.shape), tuple(scores.shape))
        except ValueError:
            raise RuntimeError(
                f"scaled_dot_product_attention: attn_mask of shape {tuple(attn_mask.shape)} "
                f"does not broadcast to the attention weights' shape {tuple(scores.shape)}"
            ) from None
        scores = scores + m
    w = softmax(scores, -1)
    if dropout_p > 0.0:
        w = dropout(w, dropout_p, True)
    return E.matmul(w, value)


def _check_mask(mask, shapes, what, who):
    if mask is not None and tuple(mask.shape) not in shapes:
        raise RuntimeError(
            f"{who}: expected {what} of shape "
            + " or ".join(str(s) for s in shapes)
            + f", got {tuple(mask.shape)}"
        )


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    dropout_p: float = 0.0,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    bias_k: Tensor | None = None,
    bias_v: Tensor | None = None,
    add_zero_attn: bool = False,
    who: str = "multi_head_attention_forward",
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on sequence-first inputs: query (L, N, E), key (S, N, Ek),
    value (S, N, Ev) -> output (L, N, E) and, with ``need_weights``, the attention
    weights (N, L, S) averaged over heads (or (N, heads, L, S)). Masks as in
    :class:`~ember.nn.MultiheadAttention`."""
    lq, n, e = query.shape
    hd = e // num_heads
    if in_proj_weight is not None:
        wq, wk, wv = in_proj_weight.chunk(3, 0)
    else:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    bq = bk = bv = None
    if in_proj_bias is not None:
        bq, bk, bv = in_proj_bias.chunk(3, 0)
    if query is key and key is value and in_proj_weight is not None:
        # self-attention: one product for q, k and v
        q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
    else:
        q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    if bias_k is not None:
        k = E.cat([k, bias_k.reshape(1, 1, e).expand(1, n, e)], 0)
        v = E.cat([v, bias_v.reshape(1, 1, e).expand(1, n, e)], 0)
        if attn_mask is not None:
            attn_mask = E.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = E.pad(key_padding_mask, (0, 1))
    if add_zero_attn:
        k = E.cat([k, E.zeros((1, n, e), dtype=k.dtype, device=k.device)], 0)
        v = E.cat([v, E.zeros((1, n, e), dtype=v.dtype, device=v.device)], 0)
        if attn_mask is not None:
            attn_mask = E.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = E.pad(key_padding_mask, (0, 1))
    ls = k.shape[0]
    _check_mask(attn_mask, [(lq, ls), (n * num_heads, lq, ls)], "attn_mask", who)
    _check_mask(key_padding_mask, [(n, ls)], "key_padding_mask", who)

    # (L, N, E) -> (N, heads, L, hd)
    def heads(t, length):
        return t.reshape(length, n, num_heads, hd).permute(1, 2, 0, 3)

    qh, kh, vh = heads(q, lq), heads(k, ls), heads(v, ls)
    scores = E.matmul(qh * (1.0 / math.sqrt(hd)), kh.transpose(-2, -1))  # (N, h, L, S)
    if attn_mask is None and is_causal:
        attn_mask = _causal(lq, ls, scores.dtype, scores.device)
    if attn_mask is not None:
        m = _as_additive(attn_mask, scores.dtype, allowed_is_true=False)
        scores = scores + (m.reshape(n, num_heads, lq, ls) if m.dim() == 3 else m)
    if key_padding_mask is not None:
        kp = _as_additive(key_padding_mask, scores.dtype, allowed_is_true=False)
        scores = scores + kp.reshape(n, 1, 1, ls)
    w = softmax(scores, -1)
    wd = dropout(w, dropout_p, True) if training and dropout_p > 0.0 else w
    out = E.matmul(wd, vh)  # (N, h, L, hd)
    out = out.permute(2, 0, 1, 3).reshape(lq, n, e)
    out = linear(out, out_proj_weight, out_proj_bias)
    if not need_weights:
        return out, None
    return out, (w.mean(1) if average_attn_weights else w)
