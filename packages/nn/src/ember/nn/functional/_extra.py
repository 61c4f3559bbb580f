"""Functional ops written by nn-B (attention, padding, sampling, CTC, EmbeddingBag,
bilinear); ``ember.nn.functional`` re-exports them."""

from ember.nn.functional import _attention, _ctc, _embedding_bag, _sampling

__all__: list[str] = [
    *_attention.__all__,
    *_ctc.__all__,
    *_embedding_bag.__all__,
    *_sampling.__all__,
]
