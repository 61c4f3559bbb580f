"""``ember.nn.utils``: sequence packing (``utils.rnn``), gradient clipping, parameter
vectors, weight normalization, parametrizations (``parametrize``,
``parametrizations``), spectral normalization and activation checkpointing
(``checkpoint``)."""

from ember.nn.utils import parametrizations, parametrize, rnn
from ember.nn.utils._checkpoint import checkpoint, checkpoint_sequential
from ember.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from ember.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from ember.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from ember.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = [
    "rnn",
    "parametrize",
    "parametrizations",
    "spectral_norm",
    "remove_spectral_norm",
    "checkpoint",
    "checkpoint_sequential",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "parameters_to_vector",
    "vector_to_parameters",
    "weight_norm",
    "remove_weight_norm",
]
