"""ember.vision.transforms: image transforms for PIL images and tensors ``(..., C, H, W)``.

    >>> from ember.vision import transforms as T
    >>> t = T.Compose([T.Resize(64), T.CenterCrop(64), T.ToTensor(), T.Normalize([0.5], [0.5])])

Random transforms draw their parameters in ``get_params`` from ember's
generator, so ``ember.manual_seed`` and DataLoader worker seeding make them
reproducible. ``transforms.functional`` has every transform as a function.
"""

from . import functional
from ._image import InterpolationMode
from ._t_autoaugment import *
from ._t_basic import *
from ._t_color import *
from ._t_geometry import *
