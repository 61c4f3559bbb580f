"""Functional ops written by nn-B (attention, padding, sampling, CTC, EmbeddingBag,
bilinear); ``ember.nn.functional`` re-exports them."""

from ember.nn.functional._attention import (
    multi_head_attention_forward,
    scaled_dot_product_attention,
)
from ember.nn.functional._ctc import ctc_loss
from ember.nn.functional._embedding_bag import bilinear, embedding_bag
from ember.nn.functional._sampling import (
    interpolate,
    pad,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)

__all__ = [
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
    "ctc_loss",
    "embedding_bag",
    "bilinear",
    "pad",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "pixel_shuffle",
    "pixel_unshuffle",
]
