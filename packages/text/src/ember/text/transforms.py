"""Composable text transforms: tokenize -> vocab -> truncate -> add BOS/EOS -> tensor -> pad.

Every transform takes one example or a batch (a list of examples) and answers in
kind, so the same pipeline serves a Dataset's ``__getitem__`` and a collate_fn::

    pipeline = Sequential(
        Tokenize(get_tokenizer("basic_english")), VocabTransform(vocab), Truncate(254),
        AddToken(vocab["<bos>"], begin=True), AddToken(vocab["<eos>"], begin=False),
        ToTensor(padding_value=vocab["<pad>"]),
    )
    pipeline(["a first text", "a second, longer text"])  # int64 tensor (2, L)

Transforms are plain picklable objects (they cross into DataLoader workers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember.text.vocab import Vocab

__all__ = [
    "AddToken",
    "LabelToIndex",
    "Lambda",
    "PadTransform",
    "Sequential",
    "ToTensor",
    "Tokenize",
    "Truncate",
    "VocabTransform",
    "pad_sequence",
]


def _is_batch_of_lists(x: Any) -> bool:
    """True for a list of examples whose items are themselves sequences."""
    return isinstance(x, list | tuple) and len(x) > 0 and isinstance(x[0], list | tuple)


class Sequential:
    """Apply transforms in order."""

    def __init__(self, *transforms: Callable) -> None:
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"transform {i} is not callable: {t!r}")
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __getitem__(self, i: int) -> Callable:
        return self.transforms[i]

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = "".join(f"\n  {t!r}," for t in self.transforms)
        return f"Sequential({inner}\n)"


class Lambda:
    """Wrap a function as a transform (named functions pickle; lambdas do not)."""

    def __init__(self, fn: Callable) -> None:
        if not callable(fn):
            raise TypeError(f"Lambda needs a callable, got {fn!r}")
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class Tokenize:
    """``str -> list[str]`` or ``list[str] -> list[list[str]]`` with ``tokenizer``."""

    def __init__(self, tokenizer: Callable[[str], list[str]]) -> None:
        self.tokenizer = tokenizer

    def __call__(self, x: str | Sequence[str]) -> list:
        if isinstance(x, str):
            return self.tokenizer(x)
        if isinstance(x, list | tuple):
            return [self.tokenizer(s) for s in x]
        raise TypeError(f"Tokenize expects a str or a list of str, got {type(x).__name__}")

    def __repr__(self) -> str:
        return f"Tokenize({self.tokenizer!r})"


class VocabTransform:
    """Tokens to ids through a :class:`~ember.text.vocab.Vocab`."""

    def __init__(self, vocab: Vocab) -> None:
        if not isinstance(vocab, Vocab):
            raise TypeError(f"VocabTransform needs an ember.text Vocab, got {type(vocab).__name__}")
        self.vocab = vocab

    def __call__(self, x: Sequence) -> list:
        if _is_batch_of_lists(x):
            return [self.vocab.lookup_indices(t) for t in x]
        return self.vocab.lookup_indices(x)

    def __repr__(self) -> str:
        return f"VocabTransform(size={len(self.vocab)})"


class Truncate:
    """Keep at most ``max_seq_len`` items of each sequence."""

    def __init__(self, max_seq_len: int) -> None:
        if max_seq_len < 0:
            raise ValueError(f"max_seq_len must be >= 0, got {max_seq_len}")
        self.max_seq_len = max_seq_len

    def __call__(self, x: Sequence) -> list:
        if _is_batch_of_lists(x):
            return [list(s[: self.max_seq_len]) for s in x]
        return list(x[: self.max_seq_len])

    def __repr__(self) -> str:
        return f"Truncate({self.max_seq_len})"


class AddToken:
    """Put ``token`` (an id or a string) at the start (``begin=True``) or the end."""

    def __init__(self, token: int | str, begin: bool = True) -> None:
        self.token, self.begin = token, begin

    def _one(self, s: Sequence) -> list:
        return [self.token, *s] if self.begin else [*s, self.token]

    def __call__(self, x: Sequence) -> list:
        if _is_batch_of_lists(x):
            return [self._one(s) for s in x]
        return self._one(x)

    def __repr__(self) -> str:
        return f"AddToken({self.token!r}, begin={self.begin})"


def pad_sequence(
    sequences: Sequence,
    batch_first: bool = True,
    padding_value: int | float = 0,
    padding_side: str = "right",
    dtype: Any = None,
):
    """Stack 1-D sequences (lists or tensors) of different lengths into one tensor,
    ``(batch, max_len)`` when ``batch_first`` else ``(max_len, batch)``, filling the
    rest with ``padding_value`` on the right (or the left)."""
    import ember
    from ember._dtype import to_numpy_dtype

    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    arrays = [s.numpy() if hasattr(s, "numpy") else np.asarray(s) for s in sequences]
    for i, a in enumerate(arrays):
        if a.ndim != 1:
            raise ValueError(
                f"sequence {i} has shape {a.shape}; pad_sequence expects 1-D sequences"
            )
    if dtype is not None:
        npdt = to_numpy_dtype(dtype)
    elif arrays and any(a.size for a in arrays):
        npdt = np.result_type(*[a for a in arrays if a.size])
    else:
        npdt = np.int64
    if npdt.kind in "iub" and not float(padding_value).is_integer():
        raise ValueError(f"padding_value {padding_value} does not fit integer sequences")
    longest = max((len(a) for a in arrays), default=0)
    out = np.full((len(arrays), longest), padding_value, dtype=npdt)
    for i, a in enumerate(arrays):
        if len(a):
            if padding_side == "right":
                out[i, : len(a)] = a
            else:
                out[i, longest - len(a) :] = a
    return ember.from_numpy(out if batch_first else np.ascontiguousarray(out.T))


class ToTensor:
    """Ids to an ember tensor: one sequence -> 1-D, a batch -> 2-D padded with
    ``padding_value`` (required when lengths differ)."""

    def __init__(self, padding_value: int | None = None, dtype: Any = None) -> None:
        self.padding_value = padding_value
        self.dtype = dtype

    def __call__(self, x: Sequence):
        import ember

        dtype = self.dtype if self.dtype is not None else ember.int64
        if _is_batch_of_lists(x):
            lengths = {len(s) for s in x}
            if len(lengths) > 1 and self.padding_value is None:
                raise ValueError(
                    f"sequences have different lengths {sorted(lengths)[:5]}: set padding_value"
                )
            return pad_sequence(x, True, self.padding_value or 0, dtype=dtype)
        return ember.tensor(list(x), dtype=dtype)

    def __repr__(self) -> str:
        return f"ToTensor(padding_value={self.padding_value})"


class PadTransform:
    """Pad the last dimension of a tensor with ``pad_value`` up to ``max_length``
    (longer inputs are left as they are)."""

    def __init__(self, max_length: int, pad_value: int | float) -> None:
        if max_length < 0:
            raise ValueError(f"max_length must be >= 0, got {max_length}")
        self.max_length, self.pad_value = max_length, pad_value

    def __call__(self, x):
        import ember

        a = x.numpy()
        missing = self.max_length - a.shape[-1]
        if missing <= 0:
            return x
        pad = [(0, 0)] * (a.ndim - 1) + [(0, missing)]
        return ember.from_numpy(np.pad(a, pad, constant_values=self.pad_value))

    def __repr__(self) -> str:
        return f"PadTransform({self.max_length}, {self.pad_value!r})"


class LabelToIndex:
    """Label names to ids: ``label_names[i] -> i`` (``sort_names`` sorts them first)."""

    def __init__(self, label_names: Sequence[str], sort_names: bool = False) -> None:
        names = sorted(label_names) if sort_names else list(label_names)
        if len(set(names)) != len(names):
            raise ValueError("label_names contain duplicates")
        self.label_names = names
        self._index = {n: i for i, n in enumerate(names)}

    def __call__(self, x: str | Sequence[str]) -> int | list[int]:
        if isinstance(x, str):
            if x not in self._index:
                raise KeyError(f"unknown label {x!r}; expected one of {self.label_names}")
            return self._index[x]
        return [self(s) for s in x]

    def __repr__(self) -> str:
        return f"LabelToIndex({self.label_names!r})"
