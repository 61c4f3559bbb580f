"""RNN, LSTM, GRU and their cells: PyTorch 2.13 parity (fixtures/b), gradients by
finite differences, packed sequences, error messages."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
from ember.autograd import gradcheck, gradgradcheck
from ember.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "b")


def load(name, module=None):
    """The fixture's arrays; ``module`` gets the fixture's PyTorch state dict."""
    if module is not None:
        sd = E.load(os.path.join(FIX, name + ".pt"))
        module.load_state_dict(sd)
    return dict(np.load(os.path.join(FIX, name + ".npz")))


def t(a, grad=False):
    return E.tensor(a, requires_grad=grad)


def arr(x):
    return x.detach().numpy()


def close(x, ref, tol=1e-10):
    np.testing.assert_allclose(x.detach().numpy(), ref, rtol=tol, atol=tol)


# ----- parity with PyTorch -----
def test_lstm_two_layer_bidirectional_batch_first_matches_torch():
    m = nn.LSTM(6, 8, num_layers=2, bidirectional=True, batch_first=True, dtype=E.float64)
    f = load("lstm2_bidir_bf", m)
    x = t(f["x"], True)
    y, (h, c) = m(x, (t(f["h0"]), t(f["c0"])))
    close(y, f["y"])
    close(h, f["h"])
    close(c, f["c"])
    ((y * t(f["r"])).sum() + (h * h).sum() + c.sum()).backward()
    close(x.grad, f["gx"])
    close(m.weight_hh_l1_reverse.grad, f["g_weight_hh_l1_reverse"])
    close(m.bias_ih_l0.grad, f["g_bias_ih_l0"])


def test_gru_on_unsorted_packed_batch_matches_torch():
    m = nn.GRU(4, 5, num_layers=2, bidirectional=True, dtype=E.float64)
    f = load("gru_packed", m)
    x = t(f["x"], True)
    p = pack_padded_sequence(x, f["lengths"].tolist(), enforce_sorted=False)
    np.testing.assert_array_equal(p.batch_sizes.numpy(), f["batch_sizes"])
    yp, h = m(p)
    assert isinstance(yp, nn.utils.rnn.PackedSequence)
    close(yp.data, f["packed_data"])
    y, ylen = pad_packed_sequence(yp, padding_value=-1.0)
    close(y, f["y"])
    np.testing.assert_array_equal(ylen.numpy(), f["ylen"])
    close(h, f["h"])
    ((y.clamp(min=-0.99) * t(f["r"])).sum() + (h * h).sum()).backward()
    close(x.grad, f["gx"])


@pytest.mark.parametrize(
    "name,make",
    [
        ("rnn_relu", lambda: nn.RNN(4, 5, 2, nonlinearity="relu", bias=False, dtype=E.float64)),
        ("lstm_proj", lambda: nn.LSTM(4, 6, proj_size=3, dtype=E.float64)),
    ],
)
def test_rnn_variants_match_torch(name, make):
    m = make()
    f = load(name, m)
    y, h = m(t(f["x"]))
    close(y, f["y"])
    if isinstance(h, tuple):
        close(h[0], f["h"])
        close(h[1], f["c"])
    else:
        close(h, f["h"])


@pytest.mark.parametrize("name", ["lstmcell", "grucell", "rnncell"])
def test_cells_match_torch(name):
    cls = {"lstmcell": nn.LSTMCell, "grucell": nn.GRUCell, "rnncell": nn.RNNCell}[name]
    m = cls(3, 4, dtype=E.float64)
    f = load(name, m)
    if cls is nn.LSTMCell:
        h, c = m(t(f["x"]), (t(f["h0"]), t(f["c0"])))
        close(c, f["c"])
    else:
        h = m(t(f["x"]), t(f["h0"]))
    close(h, f["h"])


# ----- gradients -----
MODES = [
    ("LSTM", {}),
    ("GRU", {}),
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("LSTM", {"proj_size": 2}),
]


def _loss(out):
    y, h = out
    if isinstance(h, tuple):
        return (y * y).sum() + h[0].sum() + (h[1] * h[1] * h[1]).sum()
    return (y * y).sum() + h.sum()


@pytest.mark.parametrize("mode,kw", MODES)
def test_gradcheck_input_and_states(mode, kw):
    E.manual_seed(0)
    m = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=True, dtype=E.float64, **kw)
    x = E.randn(4, 2, 3, dtype=E.float64, requires_grad=True)
    h_out = kw.get("proj_size") or 4
    h0 = E.randn(4, 2, h_out, dtype=E.float64, requires_grad=True)
    if mode == "LSTM":
        c0 = E.randn(4, 2, 4, dtype=E.float64, requires_grad=True)
        assert gradcheck(lambda x, h0, c0: _loss(m(x, (h0, c0))), (x, h0, c0))
    else:
        assert gradcheck(lambda x, h0: _loss(m(x, h0)), (x, h0))


@pytest.mark.parametrize("mode,kw", MODES)
def test_gradcheck_parameters_packed(mode, kw):
    E.manual_seed(1)
    m = getattr(nn, mode)(3, 3, num_layers=2, bidirectional=True, dtype=E.float64, **kw)
    x = E.randn(4, 3, 3, dtype=E.float64)
    params = tuple(m.parameters())

    def f(*_):
        y, h = m(pack_padded_sequence(x, [4, 3, 1]))
        yp, _ = pad_packed_sequence(y)
        return _loss((yp, h))

    assert gradcheck(f, params)


def test_gradgradcheck_lstm():
    E.manual_seed(2)
    m = nn.LSTM(2, 3, dtype=E.float64)
    x = E.randn(3, 2, 2, dtype=E.float64, requires_grad=True)
    assert gradgradcheck(lambda x: m(x)[0], (x,))


@pytest.mark.parametrize("cls", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
def test_cells_gradcheck_and_unbatched(cls):
    E.manual_seed(3)
    m = cls(3, 4, dtype=E.float64)
    x = E.randn(2, 3, dtype=E.float64, requires_grad=True)
    h = E.randn(2, 4, dtype=E.float64, requires_grad=True)
    hx = (h, h * 0.5) if cls is nn.LSTMCell else h

    def f(x, h):
        out = m(x, (h, h * 0.5) if cls is nn.LSTMCell else h)
        return out[0] + out[1] if isinstance(out, tuple) else out

    assert gradcheck(f, (x, h))
    one = m(x[1], tuple(s[1] for s in hx) if isinstance(hx, tuple) else hx[1])
    full = m(x, hx)
    a = one[0] if isinstance(one, tuple) else one
    b = full[0] if isinstance(full, tuple) else full
    close(a, arr(b[1]), 1e-12)


# ----- semantics -----
def test_packed_final_state_is_state_at_each_sequence_end():
    E.manual_seed(4)
    m = nn.LSTM(3, 4, bidirectional=True, dtype=E.float64)
    x = E.randn(5, 3, 3, dtype=E.float64)
    lengths = [2, 5, 3]
    _, (h, c) = m(pack_padded_sequence(x, lengths, enforce_sorted=False))
    for b, n in enumerate(lengths):  # each sequence alone, unpadded
        _, (hb, cb) = m(x[:n, b : b + 1])
        close(h[:, b], arr(hb[:, 0]), 1e-12)
        close(c[:, b], arr(cb[:, 0]), 1e-12)


def test_unbatched_and_batch_first_agree_with_batched():
    E.manual_seed(5)
    m = nn.GRU(3, 4, num_layers=2, dtype=E.float64)
    x = E.randn(5, 2, 3, dtype=E.float64)
    y, h = m(x)
    y1, h1 = m(x[:, 1])
    close(y1, arr(y[:, 1]), 1e-12)
    close(h1, arr(h[:, 1]), 1e-12)
    mb = nn.GRU(3, 4, num_layers=2, batch_first=True, dtype=E.float64)
    mb.load_state_dict(m.state_dict())
    yb, hb = mb(x.transpose(0, 1))
    close(yb.transpose(0, 1), arr(y), 1e-12)


def test_parameter_names_shapes_and_init_bounds():
    m = nn.LSTM(5, 6, num_layers=2, bidirectional=True, proj_size=3)
    names = dict(m.named_parameters())
    assert tuple(names["weight_ih_l0"].shape) == (24, 5)
    assert tuple(names["weight_hh_l0_reverse"].shape) == (24, 3)
    assert tuple(names["weight_ih_l1"].shape) == (24, 6)
    assert tuple(names["weight_hr_l1_reverse"].shape) == (3, 6)
    assert len(names) == 2 * 2 * 5
    m.flatten_parameters()
    assert [len(w) for w in m.all_weights] == [5, 5, 5, 5]
    assert m.all_weights[1][1] is m.weight_hh_l0_reverse
    bound = 1 / np.sqrt(6)
    allv = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.abs(allv).max() <= bound and np.abs(allv).max() > 0.9 * bound


def test_dropout_between_layers_only_in_training():
    E.manual_seed(6)
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5, dtype=E.float64)
    x = E.randn(4, 2, 3, dtype=E.float64)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    close(a, arr(b), 0)
    m.train()
    c, _ = m(x)
    assert not np.allclose(arr(c), arr(a))


def test_float32_runs_and_backward():
    m = nn.LSTM(4, 5)
    x = E.randn(3, 2, 4, requires_grad=True)
    y, _ = m(x)
    assert y.dtype == E.float32
    y.sum().backward()
    assert x.grad.dtype == E.float32 and m.weight_ih_l0.grad.dtype == E.float32


# ----- bad input -----
def test_wrong_feature_size_names_layer_and_shapes():
    model = nn.Sequential()
    model.add_module("enc", nn.LSTM(4, 5))
    with pytest.raises(RuntimeError, match=r"LSTM 'enc'.*Expected 4, got 3.*\(2, 1, 3\)"):
        model(E.randn(2, 1, 3))


def test_wrong_hidden_shape_names_both_shapes():
    m = nn.GRU(4, 5, num_layers=2)
    with pytest.raises(
        RuntimeError, match=r"GRU.*hidden state h_0 of shape \(2, 3, 5\).*\(1, 3, 5\)"
    ):
        m(E.randn(6, 3, 4), E.zeros(1, 3, 5))
    lstm = nn.LSTM(4, 5)
    with pytest.raises(RuntimeError, match=r"cell state c_0 of shape \(1, 3, 5\), got \(1, 3, 4\)"):
        lstm(E.randn(6, 3, 4), (E.zeros(1, 3, 5), E.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match=r"3-D \(batched\) or 2-D"):
        lstm(E.randn(4))
    cell = nn.LSTMCell(4, 5)
    with pytest.raises(RuntimeError, match=r"LSTMCell.*shape \(2, 5\), got \(2, 4\)"):
        cell(E.randn(2, 4), (E.zeros(2, 4), E.zeros(2, 5)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=1.5)
