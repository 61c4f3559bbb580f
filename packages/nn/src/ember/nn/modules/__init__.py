"""Every layer class; ``ember.nn`` re-exports them all."""

from ember.nn.modules._extra import *
from ember.nn.modules.container import *
from ember.nn.modules.module import Module
