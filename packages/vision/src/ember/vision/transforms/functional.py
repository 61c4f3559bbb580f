"""``ember.vision.transforms.functional``: every transform as a plain function.

Each function takes a PIL image or a tensor ``(..., C, H, W)`` (batched
tensors too) and returns the same kind. Tensor functions keep the dtype:
integer results are rounded and clipped.
"""

from ._f_augment import (
    adjust_sharpness,
    autocontrast,
    equalize,
    posterize,
    solarize,
)
from ._f_color import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    gaussian_blur,
    invert,
    rgb_to_grayscale,
    to_grayscale,
)
from ._f_convert import (
    convert_image_dtype,
    erase,
    normalize,
    pil_to_tensor,
    to_pil_image,
    to_tensor,
)
from ._f_geometry import (
    affine,
    center_crop,
    crop,
    five_crop,
    get_dimensions,
    get_image_size,
    hflip,
    pad,
    perspective,
    resize,
    resized_crop,
    rotate,
    ten_crop,
    vflip,
)
from ._image import InterpolationMode

__all__ = [
    "InterpolationMode",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "adjust_sharpness",
    "affine",
    "autocontrast",
    "center_crop",
    "convert_image_dtype",
    "crop",
    "equalize",
    "erase",
    "five_crop",
    "gaussian_blur",
    "get_dimensions",
    "get_image_size",
    "hflip",
    "invert",
    "normalize",
    "pad",
    "perspective",
    "pil_to_tensor",
    "posterize",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "rotate",
    "solarize",
    "ten_crop",
    "to_grayscale",
    "to_pil_image",
    "to_tensor",
    "vflip",
]
