"""BertModel: a NumPy-only forward pass as the independent reference, HF parameter
names, loading from folders and URLs (hash-checked), and the real all-MiniLM-L6-v2
embeddings against sentence-transformers' output (fixture from tools/make_bert_fixtures.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import ember
from ember.serialization import safetensors
from ember.text.models import BertConfig, BertModel, SentenceEncoder, mean_pooling

TINY = BertConfig(
    vocab_size=40,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=24,
    max_position_embeddings=20,
)


def _np_layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _np_gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def numpy_bert(sd: dict, cfg: BertConfig, ids, mask, types):
    """BERT's forward pass written from the paper/HF layout with NumPy only (float64)."""
    p = {k: v.detach().numpy().astype(np.float64) for k, v in sd.items()}
    b, t = ids.shape
    x = p["embeddings.word_embeddings.weight"][ids]
    x = x + p["embeddings.position_embeddings.weight"][np.arange(t)][None]
    x = x + p["embeddings.token_type_embeddings.weight"][types]
    eps = cfg.layer_norm_eps
    x = _np_layer_norm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], eps)
    nh, hd = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    neg = np.where(mask[:, None, None, :] > 0, 0.0, -1e30)
    for i in range(cfg.num_hidden_layers):
        pre = f"encoder.layer.{i}."

        def lin(name, h, pre=pre):
            return h @ p[pre + name + ".weight"].T + p[pre + name + ".bias"]

        def heads(h):
            return h.reshape(b, t, nh, hd).transpose(0, 2, 1, 3)

        q, k, v = (heads(lin(f"attention.self.{n}", x)) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + neg
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, t, nh * hd)
        a = lin("attention.output.dense", ctx) + x
        a = _np_layer_norm(
            a,
            p[pre + "attention.output.LayerNorm.weight"],
            p[pre + "attention.output.LayerNorm.bias"],
            eps,
        )
        f = lin("output.dense", _np_gelu(lin("intermediate.dense", a))) + a
        x = _np_layer_norm(
            f, p[pre + "output.LayerNorm.weight"], p[pre + "output.LayerNorm.bias"], eps
        )
    pooled = np.tanh(x[:, 0] @ p["pooler.dense.weight"].T + p["pooler.dense.bias"])
    return x, pooled


def _batch():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, TINY.vocab_size, size=(3, 7))
    mask = np.ones_like(ids)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    ids[mask == 0] = 0
    types = np.zeros_like(ids)
    types[0, 4:] = 1
    return ids, mask, types


def test_forward_matches_numpy_reference():
    ember.manual_seed(0)
    model = BertModel(TINY).eval()
    ids, mask, types = _batch()
    out = model(ember.tensor(ids), ember.tensor(mask), ember.tensor(types))
    ref_h, ref_pool = numpy_bert(model.state_dict(), TINY, ids, mask, types)
    np.testing.assert_allclose(out.last_hidden_state.detach().numpy(), ref_h, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(out.pooler_output.detach().numpy(), ref_pool, atol=2e-5, rtol=1e-4)
    pooled = mean_pooling(out.last_hidden_state, ember.tensor(mask)).detach().numpy()
    ref_mean = (ref_h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(pooled, ref_mean, atol=2e-5, rtol=1e-4)
    # padding positions do not change the real tokens' states
    short = model(
        ember.tensor(ids[2:, :2]), ember.tensor(mask[2:, :2]), ember.tensor(types[2:, :2])
    )
    np.testing.assert_allclose(
        short.last_hidden_state.detach().numpy()[0],
        out.last_hidden_state.detach().numpy()[2, :2],
        atol=1e-5,
    )


def test_parameter_names_follow_hugging_face():
    keys = set(BertModel(TINY).state_dict())
    for name in [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.1.attention.self.value.bias",
        "encoder.layer.0.attention.output.dense.weight",
        "encoder.layer.0.attention.output.LayerNorm.bias",
        "encoder.layer.1.intermediate.dense.weight",
        "encoder.layer.1.output.dense.bias",
        "encoder.layer.1.output.LayerNorm.weight",
        "pooler.dense.weight",
    ]:
        assert name in keys
    assert len(keys) == 5 + 2 * 16 + 2
    assert "pooler.dense.weight" not in BertModel(TINY, add_pooling_layer=False).state_dict()


def test_backward_reaches_every_parameter():
    ember.manual_seed(1)
    model = BertModel(TINY)
    ids, mask, types = _batch()
    out = model(ember.tensor(ids), ember.tensor(mask), ember.tensor(types))
    (out.last_hidden_state.sum() + out.pooler_output.sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert np.isfinite(
        model.encoder.layer[0].attention.self.query.weight.grad.detach().numpy()
    ).all()


def _write_model_dir(folder, model: BertModel, prefix: str = "") -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {prefix + k: v for k, v in model.state_dict().items()}
    tensors[prefix + "embeddings.position_ids"] = ember.arange(
        TINY.max_position_embeddings, dtype=ember.int64
    ).reshape(1, -1)
    if prefix:
        tensors["cls.predictions.bias"] = ember.zeros(TINY.vocab_size)
    safetensors.save_file(tensors, str(folder / "model.safetensors"))
    cfg = {**TINY.to_dict(), "architectures": ["BertModel"], "model_type": "bert"}
    (folder / "config.json").write_text(json.dumps(cfg))
    return tensors


def test_from_pretrained_folder(tmp_path):
    ember.manual_seed(2)
    model = BertModel(TINY).eval()
    _write_model_dir(tmp_path / "plain", model)
    _write_model_dir(tmp_path / "prefixed", model, prefix="bert.")
    ids, mask, types = (ember.tensor(a) for a in _batch())
    ref = model(ids, mask, types).last_hidden_state.detach().numpy()
    for sub in ("plain", "prefixed"):
        loaded = BertModel.from_pretrained(tmp_path / sub)
        assert not loaded.training
        np.testing.assert_array_equal(
            loaded(ids, mask, types).last_hidden_state.detach().numpy(), ref
        )
    with pytest.raises(FileNotFoundError, match="not a model directory"):
        BertModel.from_pretrained(tmp_path / "missing")


def test_from_pretrained_url_checks_hashes(tmp_path, server, hub_home, th):
    ember.manual_seed(3)
    model = BertModel(TINY).eval()
    _write_model_dir(tmp_path / "m", model)
    weights = (tmp_path / "m" / "model.safetensors").read_bytes()
    server.add("/tiny/config.json", (tmp_path / "m" / "config.json").read_bytes())
    server.add("/tiny/model.safetensors", weights)
    good = {"model.safetensors": th.sha256(weights)}
    loaded = BertModel.from_pretrained(server.url + "/tiny", sha256=good, progress=False)
    ids = ember.tensor(_batch()[0])
    np.testing.assert_array_equal(
        loaded(ids).last_hidden_state.detach().numpy(),
        model(ids).last_hidden_state.detach().numpy(),
    )
    # a corrupted copy on another URL is refused before anything loads
    from ember.hub import HashMismatchError

    bad = bytearray(weights)
    bad[-5] ^= 0xFF
    server.add("/bad/config.json", (tmp_path / "m" / "config.json").read_bytes())
    server.add("/bad/model.safetensors", bytes(bad))
    with pytest.raises(HashMismatchError):
        BertModel.from_pretrained(server.url + "/bad", sha256=good, progress=False)


def test_config_validation():
    with pytest.raises(ValueError, match="not a multiple"):
        BertConfig(hidden_size=10, num_attention_heads=3)
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig(hidden_act="swishy")
    with pytest.raises(ValueError, match="exceeds max_position_embeddings"):
        BertModel(TINY)(ember.zeros((1, 21), dtype=ember.int64))


def test_minilm_reproduces_sentence_transformers(th, minilm_dir):
    fx = th.load_fixture("minilm_reference.json")
    enc = SentenceEncoder.from_pretrained(minilm_dir)
    assert (enc.pooling, enc.normalize, enc.max_seq_length) == ("mean", True, 256)
    for sentence, ids in zip(fx["sentences"], fx["input_ids"]):
        assert enc.tokenizer.encode(sentence) == ids
    emb = enc.encode(fx["sentences"], batch_size=4, convert_to_numpy=True)
    np.testing.assert_allclose(emb, np.array(fx["sentence_transformers"]), atol=2e-6)
    batch = enc.tokenizer(fx["sentences"])
    with ember.no_grad():
        out = enc.model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    pooled = mean_pooling(out.last_hidden_state, batch["attention_mask"]).detach().numpy()
    np.testing.assert_allclose(pooled, np.array(fx["mean_pooled"]), atol=1e-5)
    np.testing.assert_allclose(
        out.last_hidden_state.detach().numpy()[0, :4, :16],
        np.array(fx["hidden_first_tokens"]),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        out.pooler_output.detach().numpy()[0], np.array(fx["pooler_first"]), atol=1e-5
    )
    # semantic sanity on the real model: paraphrases are closer than unrelated text
    a, b, c = enc.encode(
        ["A man plays the guitar.", "Someone is playing a guitar.", "Stock prices fell."],
        convert_to_numpy=True,
    )
    assert a @ b > 0.7 > a @ c
