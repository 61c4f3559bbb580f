"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers:
PyTorch 2.13 parity (fixtures/b), a numpy reference, gradients, mask errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "b")


def load(name, module=None):
    if module is not None:
        module.load_state_dict(E.load(os.path.join(FIX, name + ".pt")))
    return dict(np.load(os.path.join(FIX, name + ".npz")))


def t(a, grad=False):
    return E.tensor(a, requires_grad=grad)


def arr(x):
    return x.detach().numpy()


def close(x, ref, tol=1e-10):
    np.testing.assert_allclose(arr(x), ref, rtol=tol, atol=tol)


# ----- scaled_dot_product_attention -----
def _np_sdpa(q, k, v, add=None, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (scale or 1 / np.sqrt(q.shape[-1]))
    if add is not None:
        s = s + add
    s = s - s.max(-1, keepdims=True)
    w = np.exp(s)
    w /= w.sum(-1, keepdims=True)
    return w @ v


def test_sdpa_matches_numpy_and_torch():
    f = load("sdpa")
    q, k, v = (t(f[n]) for n in "qkv")
    causal = np.where(np.tril(np.ones((4, 5), bool)), 0.0, -np.inf)
    got = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    close(got, _np_sdpa(f["q"], f["k"], f["v"], causal))
    close(got, f["causal"])
    close(F.scaled_dot_product_attention(q, k, v, attn_mask=t(f["bmask"])), f["yb"])
    yf = F.scaled_dot_product_attention(q, k, v, attn_mask=t(f["fmask"]), scale=0.3)
    close(yf, f["yf"])
    close(yf, _np_sdpa(f["q"], f["k"], f["v"], f["fmask"], 0.3))


def test_sdpa_gradcheck_and_dropout():
    E.manual_seed(0)
    q = E.randn(2, 3, 4, dtype=E.float64, requires_grad=True)
    k = E.randn(2, 5, 4, dtype=E.float64, requires_grad=True)
    v = E.randn(2, 5, 3, dtype=E.float64, requires_grad=True)
    mask = E.randn(3, 5, dtype=E.float64)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask), (q, k, v))
    # dropout zeroes some weights and rescales the rest: rows no longer average v
    y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not np.allclose(arr(y), arr(F.scaled_dot_product_attention(q, k, v)))


def test_sdpa_bad_shapes():
    q, k = E.randn(2, 3, 4), E.randn(2, 5, 4)
    with pytest.raises(RuntimeError, match=r"key \(2, 5, 4\), value \(2, 6, 4\)"):
        F.scaled_dot_product_attention(q, k, E.randn(2, 6, 4))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 5\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, E.randn(2, 5, 4), attn_mask=E.zeros(4, 5))


# ----- MultiheadAttention -----
def test_mha_matches_torch_with_masks_and_weights():
    m = nn.MultiheadAttention(8, 2, batch_first=True, dtype=E.float64)
    f = load("mha", m)
    q = t(f["q"], True)
    kw = {"key_padding_mask": t(f["kpm"]), "attn_mask": t(f["am"])}
    out, w = m(q, t(f["k"]), t(f["v"]), **kw)
    close(out, f["out"])
    close(w, f["w"])
    _, w_each = m(q, t(f["k"]), t(f["v"]), average_attn_weights=False, **kw)
    close(w_each, f["w_each"])
    out.sum().backward()
    close(q.grad, f["gq"])


def test_mha_parameter_names_and_need_weights():
    m = nn.MultiheadAttention(6, 3)
    assert sorted(k for k, _ in m.named_parameters()) == [
        "in_proj_bias",
        "in_proj_weight",
        "out_proj.bias",
        "out_proj.weight",
    ]
    x = E.randn(4, 2, 6)
    out, w = m(x, x, x, need_weights=False)
    assert w is None and tuple(out.shape) == (4, 2, 6)
    m2 = nn.MultiheadAttention(6, 3, kdim=5, vdim=4)
    assert {"q_proj_weight", "k_proj_weight", "v_proj_weight"} <= dict(m2.named_parameters()).keys()
    out, w = m2(x, E.randn(7, 2, 5), E.randn(7, 2, 4))
    assert tuple(out.shape) == (4, 2, 6) and tuple(w.shape) == (2, 4, 7)


def test_mha_gradcheck_and_unbatched():
    E.manual_seed(1)
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, dtype=E.float64)
    x = E.randn(3, 2, 4, dtype=E.float64, requires_grad=True)
    kpm = E.tensor([[False, False, True], [False, False, False]])
    assert gradcheck(lambda x: m(x, x, x, key_padding_mask=kpm)[0], (x,))
    params = tuple(m.parameters())
    assert gradcheck(lambda *p: m(x, x, x)[0], params)
    one, w1 = m(x[:, 1], x[:, 1], x[:, 1])
    both, w = m(x, x, x)
    close(one, arr(both[:, 1]), 1e-12)
    close(w1, arr(w[1]), 1e-12)


def test_mha_bad_masks_name_layer_and_shapes():
    model = nn.Sequential()
    model.add_module("attn", nn.MultiheadAttention(4, 2))

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x, **kw):
            return self.inner.attn(x, x, x, **kw)

    w = Wrap()
    x = E.randn(3, 2, 4)
    with pytest.raises(
        RuntimeError,
        match=r"MultiheadAttention 'inner.attn'.*attn_mask.*\(3, 3\)"
        r".*got \(3, 4\)",
    ):
        w(x, attn_mask=E.zeros(3, 4))
    with pytest.raises(RuntimeError, match=r"key_padding_mask of shape \(2, 3\), got \(3, 2\)"):
        w(x, key_padding_mask=E.zeros(3, 2, dtype=E.bool))
    with pytest.raises(RuntimeError, match=r"last dimension 4, got query of shape \(3, 2, 5\)"):
        model.attn(E.randn(3, 2, 5), x, x)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(5, 2)


# ----- Transformer layers -----
def test_encoder_layer_matches_torch_with_padding_mask():
    m = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, dtype=E.float64)
    f = load("tel", m)
    x = t(f["x"], True)
    y = m(x, src_key_padding_mask=t(f["kpm"]))
    close(y, f["y"])
    (y * y).sum().backward()
    close(x.grad, f["gx"])


def test_encoder_layer_norm_first_gelu_matches_torch():
    m = nn.TransformerEncoderLayer(8, 2, 16, 0.0, "gelu", norm_first=True, dtype=E.float64)
    f = load("tel_normfirst_gelu", m)
    close(m(t(f["x"]), src_mask=t(f["mask"])), f["y"])
    close(m(t(f["x"]), is_causal=True), f["y"])  # the same causal mask, built inside


def test_decoder_layer_and_transformer_match_torch():
    m = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, dtype=E.float64)
    f = load("tdl", m)
    close(m(t(f["tgt"]), t(f["mem"]), tgt_mask=t(f["tmask"])), f["y"])
    m = nn.Transformer(8, 2, 2, 1, 16, dropout=0.0, batch_first=True, dtype=E.float64)
    f = load("transformer", m)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=E.float64)
    np.testing.assert_array_equal(arr(mask), f["tmask"])
    close(m(t(f["src"]), t(f["tgt"]), tgt_mask=mask), f["y"])


def test_encoder_stack_gradcheck_and_eval_determinism():
    E.manual_seed(2)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.3, dtype=E.float64)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4, dtype=E.float64))
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    enc.eval()
    x = E.randn(3, 2, 4, dtype=E.float64, requires_grad=True)
    close(enc(x), arr(enc(x)), 0)
    assert gradcheck(lambda x: enc(x), (x,))
    enc.train()
    assert not np.allclose(arr(enc(x)), arr(enc(x)))


def test_transformer_rejects_mismatched_inputs():
    m = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match=r"batch number.*\(5, 2, 8\).*\(3, 3, 8\)"):
        m(E.randn(5, 2, 8), E.randn(3, 3, 8))
    with pytest.raises(RuntimeError, match=r"d_model=8"):
        m(E.randn(5, 2, 8), E.randn(3, 2, 6))
