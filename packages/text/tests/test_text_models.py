"""The LSTM language model, the classifiers and Field: names, reference values,
padding invariance and learning a toy task."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.text import Field
from ember.text.batching import BPTTIterator
from ember.text.models import BagOfEmbeddingsClassifier, LSTMClassifier, LSTMLanguageModel


def _sgd(params, lr: float) -> None:
    """Plain SGD (ember-optim is not a dependency of ember-text)."""
    with ember.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
                p.grad = None


def test_lm_names_shapes_and_tied_weights():
    m = LSTMLanguageModel(50, 16, 16, num_layers=2, tie_weights=True)
    keys = set(m.state_dict())
    # the layout of PyTorch's word_language_model example
    assert {"encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l1", "rnn.bias_ih_l1"} <= keys
    assert {"decoder.weight", "decoder.bias"} <= keys
    assert m.decoder.weight is m.encoder.weight
    logits, (h, c) = m(ember.zeros((3, 7), dtype=ember.int64))
    assert tuple(logits.shape) == (3, 7, 50) and tuple(h.shape) == (2, 3, 16) == tuple(c.shape)
    with pytest.raises(ValueError, match="tie_weights needs"):
        LSTMLanguageModel(50, 8, 16, tie_weights=True)


def test_lm_learns_a_periodic_stream():
    ember.manual_seed(0)
    stream = np.tile(np.arange(5), 200)  # 0 1 2 3 4 0 1 ...: perfectly predictable
    m = LSTMLanguageModel(5, 16, 16, num_layers=1, dropout=0.0)
    losses = []
    for _ in range(8):
        hidden = None
        for x, y in BPTTIterator(stream, batch_size=4, bptt_len=10):
            hidden = None if hidden is None else m.detach_hidden(hidden)
            logits, hidden = m(x, hidden)
            loss = F.cross_entropy(logits.reshape(-1, 5), y.reshape(-1))
            loss.backward()
            _sgd(m.parameters(), 1.0)
            losses.append(loss.item())
    assert losses[0] > 1.3 and np.mean(losses[-5:]) < 0.05


def test_bag_classifier_matches_numpy():
    ember.manual_seed(1)
    m = BagOfEmbeddingsClassifier(20, 6, 3, padding_idx=0)
    ids = np.array([[3, 4, 5, 0], [7, 0, 0, 0]])
    lengths = np.array([3, 1])
    out = m(ember.tensor(ids), ember.tensor(lengths)).detach().numpy()
    w = m.embedding.weight.detach().numpy()
    means = np.stack([w[ids[i, : lengths[i]]].mean(0) for i in range(2)])
    ref = means @ m.fc.weight.detach().numpy().T + m.fc.bias.detach().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_lstm_classifier_ignores_padding_and_learns():
    ember.manual_seed(2)
    m = LSTMClassifier(12, 8, 8, 2, dropout=0.0).eval()
    batch = ember.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    lengths = ember.tensor([3, 5])
    together = m(batch, lengths).detach().numpy()
    alone = m(ember.tensor([[1, 2, 3]]), ember.tensor([3])).detach().numpy()
    np.testing.assert_allclose(together[0], alone[0], rtol=1e-5, atol=1e-6)
    # toy task: is token 1 present?
    rng = np.random.default_rng(0)
    x = rng.integers(2, 12, size=(64, 6))
    y = rng.integers(0, 2, size=64)
    x[y == 1, rng.integers(0, 6)] = 1
    m.train()
    xs, ls, ys = ember.tensor(x), ember.tensor(np.full(64, 6)), ember.tensor(y)
    for _ in range(150):
        F.cross_entropy(m(xs, ls), ys).backward()
        _sgd(m.parameters(), 0.5)
    m.eval()
    assert (m(xs, ls).detach().numpy().argmax(1) == y).mean() > 0.95


def test_field():
    f = Field(tokenize="basic_english", init_token="<bos>", eos_token="<eos>")
    voc = f.build_vocab(["The cat sat.", "the dog sat"], min_freq=1)
    assert voc.get_itos()[:4] == ["<unk>", "<pad>", "<bos>", "<eos>"]
    padded, lengths = f.process(["the cat", "a zebra sat ."])
    assert lengths.tolist() == [4, 6]
    b, e, p, u = voc["<bos>"], voc["<eos>"], voc["<pad>"], voc["<unk>"]
    assert padded.tolist() == [
        [b, voc["the"], voc["cat"], e, p, p],
        [b, u, u, voc["sat"], voc["."], e],
    ]
    fixed = Field(init_token="<bos>", fix_length=3, include_lengths=False)
    fixed.build_vocab(["a b c d"])
    assert tuple(fixed.process(["a b c d", "a"]).shape) == (2, 3)
    with pytest.raises(RuntimeError, match="build_vocab"):
        Field().process(["x"])
