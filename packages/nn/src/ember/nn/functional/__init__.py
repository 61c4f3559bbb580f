"""``ember.nn.functional`` (imported as ``F``): the stateless form of every layer."""
# ruff: noqa: I001 - nn-B's _extra must come last (it may override and extend)

from ember.nn.functional._activation import *
from ember.nn.functional._conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from ember.nn.functional._dropout import *
from ember.nn.functional._embedding import *
from ember.nn.functional._linear import *
from ember.nn.functional._loss import *
from ember.nn.functional._norm import *
from ember.nn.functional._pool import *
from ember.nn.functional._extra import *
