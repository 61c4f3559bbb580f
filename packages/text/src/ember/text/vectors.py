"""Pretrained word vectors: GloVe / fastText text files, or a ``.npy`` matrix plus a
word list; lookups by token, nearest neighbours and analogies by cosine similarity."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Sequence

import numpy as np

import ember

__all__ = ["Vectors", "read_word_list"]


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="strict")
    return open(path, encoding="utf-8")


def read_word_list(path: str | os.PathLike[str]) -> list[str]:
    """Words, one per line (a trailing newline is fine; blank lines are words too)."""
    with open(path, encoding="utf-8") as f:
        words = f.read().split("\n")
    if words and words[-1] == "":
        words.pop()
    return words


class Vectors:
    """A word list ``itos`` and its vectors (N, D); ``vectors["word"]`` is one (D,) tensor.

    Unknown words get ``unk_init(zeros(D))`` (zeros by default). Build from files with
    :meth:`from_text` (GloVe, fastText ``.vec``) or :meth:`from_npy`.
    """

    def __init__(
        self,
        itos: Sequence[str],
        vectors: np.ndarray | ember.Tensor,
        unk_init: Callable | None = None,
    ) -> None:
        arr = vectors.numpy() if hasattr(vectors, "numpy") else np.asarray(vectors)
        if arr.ndim != 2:
            raise ValueError(f"vectors must be (num_words, dim), got shape {arr.shape}")
        if arr.shape[0] != len(itos):
            raise ValueError(f"{len(itos)} words but {arr.shape[0]} vectors")
        self.itos = list(itos)
        self.stoi: dict[str, int] = {}
        for i, w in enumerate(self.itos):
            self.stoi.setdefault(w, i)  # a repeated word keeps its first vector
        self._array = np.ascontiguousarray(arr, dtype=np.float32)
        self.vectors = ember.from_numpy(self._array)
        self.dim = arr.shape[1]
        self.unk_init = unk_init
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vectors(num_words={len(self)}, dim={self.dim})"

    # ---- loading -----------------------------------------------------------------------

    @classmethod
    def from_text(
        cls,
        path: str | os.PathLike[str],
        max_vectors: int | None = None,
        unk_init: Callable | None = None,
    ) -> Vectors:
        """Read a GloVe file (``word v1 ... vD`` per line) or a fastText ``.vec`` (the
        same after a ``count dim`` header line); ``.gz`` is decompressed on the fly.
        Words may contain spaces: the last D fields are the vector."""
        path = os.fspath(path)
        words: list[str] = []
        rows: list[str] = []
        dim = None
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])  # fastText header: count dim
                    continue
                if len(parts) < 2:
                    if not line.strip():
                        continue
                    raise ValueError(f"{path}:{lineno}: expected a word and its vector")
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) < dim + 1:
                    raise ValueError(
                        f"{path}:{lineno}: expected {dim} values after the word, "
                        f"got {len(parts) - 1}"
                    )
                words.append(" ".join(parts[:-dim]))
                rows.append(" ".join(parts[-dim:]))
                if max_vectors is not None and len(words) >= max_vectors:
                    break
        if dim is None or not words:
            raise ValueError(f"{path}: no vectors found")
        try:
            flat = np.array(" ".join(rows).split(" "), dtype=np.float32)
        except ValueError as e:
            raise ValueError(
                f"{path}: a vector holds something that is not a number ({e})"
            ) from None
        return cls(words, flat.reshape(len(words), dim), unk_init)

    @classmethod
    def from_npy(
        cls,
        vectors_npy: str | os.PathLike[str],
        words: Sequence[str] | str | os.PathLike[str],
        unk_init: Callable | None = None,
        mmap: bool = True,
    ) -> Vectors:
        """A ``.npy`` matrix (memory-mapped: nothing is read until used) with its words,
        given as a list or a file of one word per line."""
        arr = np.load(os.fspath(vectors_npy), mmap_mode="r" if mmap else None, allow_pickle=False)
        if not isinstance(words, list | tuple):
            words = read_word_list(words)
        # a float32 C-ordered memmap passes through __init__ without a copy
        return cls(words, arr, unk_init)

    def save_npy(
        self, vectors_npy: str | os.PathLike[str], words_txt: str | os.PathLike[str]
    ) -> None:
        """Write the matrix as ``.npy`` and the words one per line (fast to reload)."""
        if any("\n" in w for w in self.itos):
            raise ValueError("a word contains a newline; it cannot go in a word-per-line file")
        np.save(os.fspath(vectors_npy), self._array)
        with open(words_txt, "w", encoding="utf-8") as f:
            f.write("".join(w + "\n" for w in self.itos))

    # ---- lookups -----------------------------------------------------------------------

    def _unknown(self) -> np.ndarray:
        z = ember.zeros(self.dim)
        return (self.unk_init(z) if self.unk_init else z).numpy()

    def __getitem__(self, token: str) -> ember.Tensor:
        i = self.stoi.get(token)
        if i is None:
            return ember.from_numpy(np.array(self._unknown(), dtype=np.float32))
        return ember.from_numpy(self._array[i].copy())

    def get_vecs_by_tokens(self, tokens: str | Sequence[str], lower_case_backup: bool = False):
        """Vectors of ``tokens``: (len(tokens), D), or (D,) for one str. With
        ``lower_case_backup`` a token missing as written is looked up lowercased."""
        single = isinstance(tokens, str)
        toks = [tokens] if single else list(tokens)
        out = np.empty((len(toks), self.dim), np.float32)
        unk = None
        for j, t in enumerate(toks):
            i = self.stoi.get(t)
            if i is None and lower_case_backup:
                i = self.stoi.get(t.lower())
            if i is None:
                unk = self._unknown() if unk is None or self.unk_init else unk
                out[j] = unk
            else:
                out[j] = self._array[i]
        return ember.from_numpy(out[0] if single else out)

    def _unit_rows(self) -> np.ndarray:
        if self._unit is None:
            norms = np.linalg.norm(self._array, axis=1, keepdims=True)
            self._unit = self._array / np.maximum(norms, 1e-12)
        return self._unit

    def _query(self, q) -> np.ndarray:
        if isinstance(q, str):
            if q not in self.stoi:
                raise KeyError(f"{q!r} has no vector")
            return self._array[self.stoi[q]].astype(np.float64)
        v = q.numpy() if hasattr(q, "numpy") else np.asarray(q)
        if v.shape != (self.dim,):
            raise ValueError(f"query vector must have shape ({self.dim},), got {v.shape}")
        return v.astype(np.float64)

    def nearest_neighbors(
        self, query, k: int = 10, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` words most cosine-similar to ``query`` (a word or a (D,) vector),
        best first, as ``(word, similarity)``; a query word itself is left out."""
        v = self._query(query)
        sims = self._unit_rows() @ (v / max(np.linalg.norm(v), 1e-12))
        skip = {
            self.stoi[w]
            for w in [*exclude, *([query] if isinstance(query, str) else [])]
            if w in self.stoi
        }
        k_eff = min(k + len(skip), len(sims))
        top = (
            np.argpartition(-sims, k_eff - 1)[:k_eff] if k_eff < len(sims) else np.arange(len(sims))
        )
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.itos[i], float(sims[i])) for i in top if i not in skip][:k]

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """Words ``d`` with ``a : b :: c : d`` (the vector ``b - a + c``), excluding a, b, c."""
        v = self._query(b) - self._query(a) + self._query(c)
        return self.nearest_neighbors(v, k, exclude=(a, b, c))
