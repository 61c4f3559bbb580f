"""numpy-level neural-network kernels over ember's C library (``ember._C``), for ember.nn.

Every function takes numpy arrays (float32 or float64; integer targets and indices as
int64 or any integer dtype), makes them C-contiguous if they are not, and returns new
arrays; nothing is modified in place except batch norm's running statistics. Bad input
raises TypeError (dtype), ValueError (shapes, sizes, parameters) or IndexError (a class
or embedding index out of range, naming it and the valid range). Semantics are
PyTorch's (``torch.nn.functional``), including its edge cases: ceil_mode windows,
count_include_pad, NaN in max pooling, weighted mean of NLL, label smoothing.

Groups:
  conv: ``im2col`` / ``col2im`` (layout in ``ember._nn_kernels_conv``), ``conv_output_shape``
  pooling: max/avg 1-D and 2-D, adaptive avg/max (``ember._nn_kernels_pool``)
  softmax & losses: softmax, log_softmax, nll_loss, cross_entropy (``_nn_kernels_loss``)
  normalization & embedding: batch/layer/group norm, embedding_backward
  (``_nn_kernels_norm``)
Threads: OpenMP over batch, channels or rows above ~64k elements of work;
``ember._kernels.set_num_threads`` sets the count.
"""

from __future__ import annotations

import numpy as _np

from ember._nn_kernels_conv import col2im, conv_output_shape, im2col
from ember._nn_kernels_loss import (
    cross_entropy_backward,
    cross_entropy_forward,
    log_softmax,
    log_softmax_backward,
    nll_loss_backward,
    nll_loss_forward,
    softmax,
    softmax_backward,
)
from ember._nn_kernels_norm import (
    batchnorm_backward,
    batchnorm_forward,
    embedding_backward,
    groupnorm_backward,
    groupnorm_forward,
    layernorm_backward,
    layernorm_forward,
)
from ember._nn_kernels_pool import (
    adaptive_avgpool1d_forward,
    adaptive_avgpool2d_backward,
    adaptive_avgpool2d_forward,
    adaptive_maxpool1d_forward,
    adaptive_maxpool2d_backward,
    adaptive_maxpool2d_forward,
    avgpool1d_backward,
    avgpool1d_forward,
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool1d_backward,
    maxpool1d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    pool_output_size,
)

__all__ = [
    "adaptive_avgpool1d_forward",
    "adaptive_avgpool2d_backward",
    "adaptive_avgpool2d_forward",
    "adaptive_maxpool1d_forward",
    "adaptive_maxpool2d_backward",
    "adaptive_maxpool2d_forward",
    "avgpool1d_backward",
    "avgpool1d_forward",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "col2im",
    "conv_output_shape",
    "cross_entropy_backward",
    "cross_entropy_forward",
    "embedding_backward",
    "groupnorm_backward",
    "groupnorm_forward",
    "im2col",
    "layernorm_backward",
    "layernorm_forward",
    "log_softmax",
    "log_softmax_backward",
    "maxpool1d_backward",
    "maxpool1d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "nll_loss_backward",
    "nll_loss_forward",
    "pool_output_size",
    "softmax",
    "softmax_backward",
]


# ----- CUDA: the same functions on CuPy arrays (ember._cuda.nn, ember._cuda.nn_norm) -----
_CUDA_MODULES = ("ember._cuda.nn", "ember._cuda.nn_norm", "ember._cuda.nn_more")


def _cuda_version(name: str):
    import importlib

    for mod in _CUDA_MODULES:
        fn = getattr(importlib.import_module(mod), name, None)
        if fn is not None:
            return fn
    return None


def _device_dispatch(name: str, cpu_fn):
    """``cpu_fn``, or its CUDA version when the first argument is a CUDA array; a kernel
    with no CUDA version raises NotImplementedError there (never a copy to the host)."""

    def fn(x, *args, **kwargs):
        if type(x) is not _np.ndarray and hasattr(x, "__cuda_array_interface__"):
            impl = _cuda_version(name)
            if impl is None:
                raise NotImplementedError(f"{name} is not implemented for device cuda")
            return impl(x, *args, **kwargs)
        return cpu_fn(x, *args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = cpu_fn.__doc__
    fn.__wrapped__ = cpu_fn
    return fn


for _name in __all__:
    if _name != "pool_output_size" and _name != "conv_output_shape":
        globals()[_name] = _device_dispatch(_name, globals()[_name])
