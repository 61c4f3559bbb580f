"""``ember.nn.utils``: sequence packing (``utils.rnn``), gradient clipping, parameter
vectors, weight normalization and activation checkpointing."""

from ember.nn.utils import rnn

__all__ = ["rnn"]
