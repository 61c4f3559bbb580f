"""Reading Hugging Face model directories (local or by URL) into ember models."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import urlparse

import numpy as np

import ember

__all__ = ["fetch_model_dir", "load_bert_files", "read_weights"]

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _is_url(s: str) -> bool:
    return urlparse(s).scheme in ("http", "https")


def fetch_model_dir(
    url: str,
    files: tuple[str, ...],
    optional: tuple[str, ...] = (),
    sha256: dict[str, str] | None = None,
    progress: bool = True,
) -> str:
    """Download ``files`` (and whichever ``optional`` ones exist) from the directory
    URL ``url`` into ``<hub dir>/checkpoints/text/<hash of url>/``; returns that path.

    A file named in ``sha256`` is checked against it while it streams (a mismatch
    raises ``ember.hub.HashMismatchError`` and nothing is kept)."""
    from ember.hub import DownloadError, download_url_to_file, get_dir

    sha256 = sha256 or {}
    unknown = set(sha256) - set(files) - set(optional)
    if unknown:
        raise ValueError(f"sha256 names files that are not fetched: {sorted(unknown)}")
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    folder = os.path.join(get_dir(), "checkpoints", "text", key)
    os.makedirs(folder, exist_ok=True)
    base = url.rstrip("/") + "/"
    for name in files:
        dst = os.path.join(folder, name)
        download_url_to_file(base + name, dst, progress=progress, sha256=sha256.get(name))
    for name in optional:
        dst = os.path.join(folder, name)
        try:
            download_url_to_file(base + name, dst, progress=progress, sha256=sha256.get(name))
        except DownloadError:
            if name in sha256:
                raise
    return folder


def read_weights(folder: str) -> dict[str, ember.Tensor]:
    """The tensors of ``model.safetensors`` (preferred) or ``pytorch_model.bin`` in
    ``folder``, through ember's safe loaders (no code runs)."""
    for name in _WEIGHT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            state = ember.load(path)
            if not isinstance(state, dict):
                raise ValueError(f"{path} does not hold a dict of tensors")
            return state
    raise FileNotFoundError(f"{folder} holds none of {list(_WEIGHT_FILES)}")


def _bert_state(state: dict, with_pooler: bool) -> dict:
    """Map checkpoint keys to BertModel's: strip a ``bert.`` prefix (pre-training
    checkpoints), drop task heads (``cls.``) and the constant ``position_ids``."""
    out = {}
    for k, v in state.items():
        if k.startswith("cls.") or k.startswith("classifier."):
            continue
        k = k[len("bert.") :] if k.startswith("bert.") else k
        if k == "embeddings.position_ids":
            ids = v.numpy().reshape(-1)
            if not np.array_equal(ids, np.arange(len(ids))):
                raise ValueError("embeddings.position_ids is not 0..N-1; unsupported checkpoint")
            continue
        if k.startswith("pooler.") and not with_pooler:
            continue
        # old TF-converted checkpoints call LayerNorm's parameters gamma/beta
        k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
            "LayerNorm.beta", "LayerNorm.bias"
        )
        out[k] = v
    return out


def load_bert_files(cls, path_or_url, *, sha256=None, progress=True):
    """Build ``cls`` (a BertModel) from a directory or URL with config.json + weights."""
    from ember.text.models.bert import BertConfig

    path = os.fspath(path_or_url)
    if _is_url(path):
        path = fetch_model_dir(
            path, ("config.json", "model.safetensors"), sha256=sha256, progress=progress
        )
    elif sha256:
        raise ValueError("sha256 is only checked for downloads; got a local path")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path} is not a model directory (config.json + weights)")
    config = BertConfig.from_json_file(os.path.join(path, "config.json"))
    state = read_weights(path)
    with_pooler = any(k.split("bert.", 1)[-1].startswith("pooler.") for k in state)
    model = cls(config, add_pooling_layer=with_pooler)
    model.load_state_dict(_bert_state(state, with_pooler), strict=True)
    return model.eval()
