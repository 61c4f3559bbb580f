"""The element types the file formats name, and their numpy storage dtypes.

Kept apart from ``ember._dtype`` on purpose: these names are part of on-disk
formats (ember's manifest, safetensors headers, PyTorch storage classes) and must
not change when the in-memory dtype layer does.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

__all__ = ["BY_NAME", "SAFETENSORS", "TORCH_STORAGES", "name_of", "swap_unit"]

# ember dtype name -> little-endian numpy dtype (what the buffers hold on disk).
BY_NAME: dict[str, np.dtype] = {
    "bool": np.dtype("?"),
    "uint8": np.dtype("u1"),
    "int8": np.dtype("i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
    "float16": np.dtype("<f2"),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
    "complex64": np.dtype("<c8"),
    "complex128": np.dtype("<c16"),
}

# safetensors header dtype code -> ember dtype name (the subset ember can hold).
SAFETENSORS: dict[str, str] = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "I16": "int16",
    "I32": "int32",
    "I64": "int64",
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "C64": "complex64",
}
# Codes the safetensors format defines that ember has no dtype for; named in errors
# so "unsupported" and "corrupt" read differently.
SAFETENSORS_UNSUPPORTED = frozenset(
    {"U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"}
)

# PyTorch legacy storage class name (``torch.FloatStorage``) -> ember dtype name.
TORCH_STORAGES: dict[str, str] = {
    "BoolStorage": "bool",
    "ByteStorage": "uint8",
    "CharStorage": "int8",
    "ShortStorage": "int16",
    "IntStorage": "int32",
    "LongStorage": "int64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}

_NAME_OF = {dt.newbyteorder("="): n for n, dt in BY_NAME.items()}


def name_of(npdt: np.dtype) -> str:
    """The format name of numpy dtype ``npdt`` (any byte order); TypeError if none."""
    try:
        return _NAME_OF[npdt if npdt.isnative else npdt.newbyteorder("=")]
    except KeyError:
        raise TypeError(
            f"cannot save arrays of numpy dtype {npdt}; supported: {', '.join(BY_NAME)}"
        ) from None


def swap_unit(name: str) -> int:
    """Bytes per byte-swapped unit: a complex number swaps its two halves separately."""
    size = BY_NAME[name].itemsize
    return size // 2 if name.startswith("complex") else size
