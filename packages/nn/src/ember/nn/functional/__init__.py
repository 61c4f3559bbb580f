"""``ember.nn.functional`` (imported as ``F``): the stateless form of every layer."""

from ember.nn.functional._extra import *
