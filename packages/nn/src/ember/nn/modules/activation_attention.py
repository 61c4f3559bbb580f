"""MultiheadAttention, with PyTorch's parameter names (``in_proj_weight``,
``in_proj_bias``, ``out_proj.weight``/``bias``; ``q_proj_weight``... when key and value
sizes differ from ``embed_dim``)."""

from __future__ import annotations

import ember as E
from ember._tensor import Tensor
from ember.nn import init
from ember.nn.functional._attention import multi_head_attention_forward
from ember.nn.modules.linear import Linear
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of ``embed_dim`` (each of size
    embed_dim // num_heads).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)``: query (L, N, E),
    key (S, N, kdim), value (S, N, vdim) ((N, L, E)... with ``batch_first``; 2-D for
    unbatched) -> ``(output (L, N, E), weights (N, L, S) or None)``.
    ``key_padding_mask`` (N, S): True (or -inf) for keys to ignore; ``attn_mask``
    (L, S) or (N*num_heads, L, S): True means *not allowed*, floats are added.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be positive, got "
                f"{embed_dim} and {num_heads}"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                f"({num_heads})"
            )
        kw = {"device": device, "dtype": dtype if dtype is not None else E.get_default_dtype()}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(E.empty((3 * embed_dim, embed_dim), **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(E.empty((embed_dim, embed_dim), **kw))
            self.k_proj_weight = Parameter(E.empty((embed_dim, self.kdim), **kw))
            self.v_proj_weight = Parameter(E.empty((embed_dim, self.vdim), **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(E.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(E.empty((1, 1, embed_dim), **kw))
            self.bias_v = Parameter(E.empty((1, 1, embed_dim), **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases (PyTorch's initialization)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _check(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        who = self._describe()
        if query.dim() not in (2, 3):
            raise ValueError(
                f"{who}: expected 3-D (batched) or 2-D (unbatched) query, got shape "
                f"{tuple(query.shape)}"
            )
        for name, t, size in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if t.dim() != query.dim() or t.shape[-1] != size:
                raise RuntimeError(
                    f"{who}: expected {name} with {query.dim()} dims and last dimension "
                    f"{size}, got {name} of shape {tuple(t.shape)}"
                )
        if key.shape[:-1] != value.shape[:-1]:
            raise RuntimeError(
                f"{who}: key shape {tuple(key.shape)} does not match value shape "
                f"{tuple(value.shape)}"
            )
        bdim = 0 if self.batch_first else 1
        if query.dim() == 3 and key.shape[bdim] != query.shape[bdim]:
            raise RuntimeError(
                f"{who}: query and key have different batch sizes: query "
                f"{tuple(query.shape)}, key {tuple(key.shape)} (batch_first={self.batch_first})"
            )
        return query.dim() == 2

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        unbatched = self._check(query, key, value)
        same = query is key and key is value
        if unbatched:
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if same:
            key = value = query
        out, w = multi_head_attention_forward(
            query,
            key,
            value,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.out_proj.weight,
            self.out_proj.bias,
            self.dropout,
            self.training,
            key_padding_mask,
            need_weights,
            attn_mask,
            average_attn_weights,
            is_causal,
            self.q_proj_weight,
            self.k_proj_weight,
            self.v_proj_weight,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            who=self._describe(),
        )
        if unbatched:
            out = out.squeeze(1)
            w = w.squeeze(0) if w is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, w

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
