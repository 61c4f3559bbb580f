"""ember.vision.models: the model zoo, with PyTorch's parameter names.

``resnet18(weights=None)`` and friends build the architectures; parameter
names match torchvision's, so its state dicts load by name.
"""

from .lenet import LeNet, lenet
