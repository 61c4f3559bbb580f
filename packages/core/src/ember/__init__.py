"""ember: a deep-learning framework for researchers.

``import ember`` gives the tensor library (ember-core). Sibling distributions
add subpackages under the same name (``ember.autograd``, ``ember.nn``,
``ember.optim``, ``ember.data``, ``ember.hub``, ``ember.vision``, ``ember.text``),
each installed only when wanted.
"""

# Let separately installed distributions (regular or editable installs) provide
# ember.<name> subpackages; must run before anything else imports a submodule.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

import importlib as _importlib

from ember import (
    _C,  # noqa: F401 - load the kernel library first (fail loudly if missing)
    _binding,
)
from ember._device import device
from ember._dtype import (
    bfloat16,
    bool,
    can_cast,
    complex64,
    complex128,
    dtype,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    set_default_dtype,
    uint8,
)
from ember._ops.creation import *  # noqa: F403
from ember._ops.index import *  # noqa: F403
from ember._ops.linalg import *  # noqa: F403
from ember._ops.math import *  # noqa: F403
from ember._ops.reduce import *  # noqa: F403
from ember._ops.shape import *  # noqa: F403
from ember._ops.linalg_ext import *  # noqa: F403
from ember._ops.linalg_struct import *  # noqa: F403
from ember._ops.math_ext import *  # noqa: F403
from ember._ops.shape_ext import *  # noqa: F403
from ember._ops.sort import *  # noqa: F403
from ember._registry import ops
from ember._threads import get_num_threads, set_num_threads
from ember._tensor import Size, Tensor

half, double, long, short, cfloat, cdouble = float16, float64, int64, int16, complex64, complex128
float = float32  # noqa: A001 - PyTorch's alias
int = int32  # noqa: A001

from ember import (
    cuda,  # noqa: E402
    random,  # noqa: E402
)

from ember._ops.random_ops import *  # noqa: E402,F403
from ember.random import (  # noqa: E402
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)

_binding.bind_tensor_methods()
from ember import linalg, testing  # noqa: E402
globals().update(_binding.legacy_types())

from ember.serialization import load, save

_LAZY_SUBPACKAGES = (
    "autograd",
    "nn",
    "optim",
    "data",
    "hub",
    "vision",
    "text",
    "distributed",
    "jit",
    "testing",
    "profiler",
)


def __getattr__(name):
    # ``ember.nn`` works after a bare ``import ember`` when ember-nn is installed.
    if name in _LAZY_SUBPACKAGES:
        try:
            return _importlib.import_module(f"ember.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ember.{name}":
                raise AttributeError(
                    f"module 'ember' has no attribute '{name}': install ember-{name} "
                    f"(pip install ember-{name})"
                ) from None
            raise
    raise AttributeError(f"module 'ember' has no attribute '{name}'")


# Discover autograd: with ember-autograd installed, requires_grad works on every tensor.
try:
    _importlib.import_module("ember.autograd")
except ModuleNotFoundError as _exc:
    if _exc.name != "ember.autograd":
        raise

__version__ = "0.1.0"
