"""ember.vision.datasets: vision datasets read from their original file formats.

Each dataset takes ``root``, ``train``/``split``, ``transform``,
``target_transform`` and ``download``; downloads go through ember.hub and are
hash-checked before use (before any extraction). :class:`EmbeddedMNIST` ships
inside the package.

- digits and small images: :class:`MNIST`, :class:`FashionMNIST`, :class:`KMNIST`,
  :class:`EMNIST`, :class:`QMNIST` (IDX files), :class:`CIFAR10`, :class:`CIFAR100`
  (pickles read without running code), :class:`SVHN` (MATLAB ``.mat`` files, read by
  scipy when installed, else by ember's own reader), :class:`STL10` (binary);
- folders: :class:`ImageFolder`, :class:`DatasetFolder`;
- large-scale classification: :class:`ImageNet` (from the official ILSVRC2012
  archives, which cannot be downloaded automatically), :class:`LSUN` and
  :class:`LSUNClass` (LMDB; ``pip install 'ember-vision[lsun]'``);
- faces, characters, patches: :class:`CelebA`, :class:`Omniglot`, :class:`PhotoTour`;
- detection and segmentation: :class:`VOCDetection`, :class:`VOCSegmentation`,
  :class:`CocoDetection`, :class:`CocoCaptions`;
- synthetic: :class:`FakeData`.
"""

from ._files import DatasetNotFoundError, check_integrity, download_from_mirrors, extract_archive
from ._idx import read_idx
from .celeba import CelebA
from .cifar import CIFAR10, CIFAR100, safe_unpickle
from .emnist import EMNIST, QMNIST
from .folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, pil_loader
from .imagenet import ImageNet
from .lsun import LSUN, LSUNClass
from .misc import CocoCaptions, CocoDetection, FakeData
from .mnist import KMNIST, MNIST, EmbeddedMNIST, FashionMNIST
from .omniglot import Omniglot
from .phototour import PhotoTour
from .stl10 import STL10
from .svhn import SVHN
from .vision import VisionDataset
from .voc import VOCDetection, VOCSegmentation

__all__ = [
    "CIFAR10",
    "CelebA",
    "CIFAR100",
    "CocoCaptions",
    "CocoDetection",
    "DatasetFolder",
    "FakeData",
    "IMG_EXTENSIONS",
    "ImageFolder",
    "ImageNet",
    "default_loader",
    "pil_loader",
    "safe_unpickle",
    "EMNIST",
    "KMNIST",
    "LSUN",
    "LSUNClass",
    "MNIST",
    "Omniglot",
    "PhotoTour",
    "QMNIST",
    "STL10",
    "SVHN",
    "DatasetNotFoundError",
    "EmbeddedMNIST",
    "FashionMNIST",
    "VisionDataset",
    "VOCDetection",
    "VOCSegmentation",
    "check_integrity",
    "download_from_mirrors",
    "extract_archive",
    "read_idx",
]
