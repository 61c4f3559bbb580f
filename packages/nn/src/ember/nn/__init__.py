"""ember.nn: modules, layers, losses, initializers and the functional API.

``import ember.nn as nn`` and ``import ember.nn.functional as F`` give PyTorch's
``torch.nn`` surface; parameter and buffer names match PyTorch's, so PyTorch
state dicts load by name.
"""

import ember.autograd.formulas_nn  # derivatives of the fused ops (conv, pooling, norms...)
from ember.nn import functional, init
from ember.nn._config import is_nonfinite_detection_enabled, set_detect_nonfinite
from ember.nn._hooks import (
    RemovableHandle,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
)
from ember.nn.modules import *
from ember.nn.parameter import Buffer, Parameter
