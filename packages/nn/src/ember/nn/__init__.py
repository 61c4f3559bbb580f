"""ember.nn: modules, layers, losses, initializers and the functional API.

``import ember.nn as nn`` and ``import ember.nn.functional as F`` give PyTorch's
``torch.nn`` surface; parameter and buffer names match PyTorch's, so PyTorch
state dicts load by name.
"""

from ember.nn import functional
from ember.nn._hooks import (
    RemovableHandle,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
)
from ember.nn.modules import *
from ember.nn.parameter import Buffer, Parameter
