"""Every layer class; ``ember.nn`` re-exports them all."""
# ruff: noqa: I001 - nn-B's _extra must come last (it may override and extend)

from ember.nn.modules.activation import *
from ember.nn.modules.batchnorm import *
from ember.nn.modules.container import *
from ember.nn.modules.conv import *
from ember.nn.modules.dropout import *
from ember.nn.modules.linear import *
from ember.nn.modules.loss import *
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import *
from ember.nn.modules.pooling import *
from ember.nn.modules.sparse import *
from ember.nn.modules._extra import *
