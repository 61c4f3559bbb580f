"""Loading ember's CUDA kernels and launching them.

Kernels live in ``ember/_C/cuda/*.cu`` as ``extern "C"`` functions named
``ember_<op>_<dtype>``. Two ways to a loaded module, memoized per device:

1. the fatbin the build hook compiled with nvcc (sm_80, sm_90 and PTX), shipped as
   ``ember/_C/cuda/ember_kernels.fatbin``: every kernel, no compile at run time;
2. without it (no nvcc at build time, or ``EMBER_CUDA_JIT=1``), CuPy's NVRTC compiles the
   one source file that holds the kernel asked for, on first use; CuPy caches the result
   on disk, so later processes load it.

Every launch goes through :func:`launch`, which checks and casts each argument to the
C type the kernel declares (CuPy passes a Python int as 8 bytes whatever the kernel
expects, so an unchecked ``int32_t`` parameter silently reads garbage).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np

CUDA_DIR = Path(__file__).resolve().parent.parent / "_C" / "cuda"
FATBIN = CUDA_DIR / "ember_kernels.fatbin"
# The sources, in the order the AOT build includes them into one translation unit.
SOURCES = ("elementwise", "reduce", "softmax", "conv", "pool", "norm", "optim", "philox")
# nvcc and NVRTC get the same semantic flags: no FMA contraction, so results match the CPU
# kernels operation by operation (and Philox's float conversions bit for bit). NVRTC's
# default dialect is already C++17; CuPy adds its own -arch and -ftz=true (denormals flush
# on the JIT path only; Philox's arithmetic never meets a denormal).
NVCC_FLAGS = ("--fmad=false", "-std=c++17")
# 177: a header helper a given source does not use (nvcc does not warn for those).
NVRTC_OPTIONS = ("--fmad=false", "-device-int128", "--diag-suppress=177")
THREADS = 256

# Kernel argument structs, laid out as in ember_common.cuh / conv.cu / pool.cu (all int64).
INDEXER = np.dtype(
    [("ndim", "<i8"), ("numel", "<i8"), ("shape", "<i8", (8,)), ("stride", "<i8", (3, 8))]
)
CONV_GEOM = np.dtype(
    [("n", "<i8"), ("c", "<i8")] + [(f, "<i8", (3,)) for f in ("inp", "k", "s", "p", "d", "out")]
)
POOL_GEOM = np.dtype(
    [
        (f, "<i8")
        for f in ("planes", "ih", "iw", "oh", "ow", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw")
    ]
)

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.M)
_lock = threading.Lock()
_functions: dict = {}
_modules: dict = {}


def _cupy():
    import cupy

    return cupy


def expand_source(path: Path, seen: set | None = None) -> str:
    """The text of ``path`` with its ``#include "..."`` lines replaced by the files'
    text (each file once), so NVRTC needs no include path and its cache key covers every
    line that is compiled."""
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        return ""
    seen.add(path)

    def sub(m: re.Match) -> str:
        return expand_source(path.parent / m.group(1), seen)

    return _INCLUDE.sub(sub, path.read_text())


def use_fatbin() -> bool:
    """True when the prebuilt fatbin is present and JIT compiling was not asked for."""
    return FATBIN.is_file() and os.environ.get("EMBER_CUDA_JIT", "") != "1"


def _module(source: str):
    """The RawModule holding ``source``'s kernels (the fatbin holds them all)."""
    cp = _cupy()
    key = "fatbin" if use_fatbin() else source
    mod = _modules.get(key)
    if mod is None:
        with _lock:
            mod = _modules.get(key)
            if mod is None:
                if key == "fatbin":
                    mod = cp.RawModule(path=str(FATBIN))
                else:
                    code = expand_source(CUDA_DIR / f"{source}.cu")
                    mod = cp.RawModule(code=code, options=NVRTC_OPTIONS, backend="nvrtc")
                _modules[key] = mod
    return mod


def function(source: str, name: str):
    """Kernel ``name`` (defined in ``<source>.cu``) for the current device, memoized."""
    cp = _cupy()
    key = (cp.cuda.runtime.getDevice(), name)
    fn = _functions.get(key)
    if fn is None:
        if source not in SOURCES:
            raise ValueError(f"unknown CUDA source {source!r}: expected one of {SOURCES}")
        fn = _functions[key] = _module(source).get_function(name)
    return fn


_SCALAR = {
    "q": np.int64,
    "Q": np.uint64,
    "i": np.int32,
    "I": np.uint32,
    "f": np.float32,
    "d": np.float64,
}


def cast_args(sig: str, args) -> tuple:
    """``args`` converted to the C types of signature ``sig``, one letter per argument:
    ``p`` device array (``None`` = NULL), ``s`` struct (a 1-element structured numpy
    array), ``q``/``Q`` int64/uint64, ``i``/``I`` int32/uint32, ``f``/``d`` float/double.
    Raises TypeError for a wrong kind of argument, OverflowError for a value that does
    not fit its C type."""
    if len(sig) != len(args):
        raise TypeError(f"kernel takes {len(sig)} arguments ({sig}), got {len(args)}")
    out = []
    for k, (code, a) in enumerate(zip(sig, args)):
        if code == "p":
            if a is not None and not _is_device_array(a):
                raise TypeError(f"argument {k}: expected a device array or None, got {type(a)}")
            out.append(a)
        elif code == "s":
            if not (isinstance(a, np.ndarray) and a.size == 1 and a.dtype.names):
                raise TypeError(f"argument {k}: expected a 1-element structured array")
            out.append(a)
        else:
            ctype = _SCALAR.get(code)
            if ctype is None:
                raise ValueError(f"unknown signature letter {code!r} in {sig!r}")
            if isinstance(a, np.ndarray | list | tuple) or a is None:
                raise TypeError(f"argument {k}: expected a scalar for '{code}', got {a!r}")
            if code in "qQiI":
                info = np.iinfo(ctype)
                v = int(a)
                if not info.min <= v <= info.max:
                    raise OverflowError(f"argument {k}: {v} does not fit {np.dtype(ctype)}")
                out.append(ctype(v))
            else:
                out.append(ctype(a))
    return tuple(out)


def _is_device_array(a) -> bool:
    """A CuPy-like device array (numpy arrays have ``.data`` too, but no ``.data.ptr``)."""
    return not isinstance(a, np.ndarray) and hasattr(getattr(a, "data", None), "ptr")


def blocks(n: int, threads: int = THREADS, per_sm: int = 32) -> int:
    """Grid size for a grid-stride loop over ``n`` items: enough blocks to cover ``n``,
    capped at a few waves (the kernels loop over the rest)."""
    need = max(1, (n + threads - 1) // threads)
    return min(need, _sm_count() * per_sm)


_SM: dict = {}


def _sm_count() -> int:
    cp = _cupy()
    dev = cp.cuda.runtime.getDevice()
    n = _SM.get(dev)
    if n is None:
        n = _SM[dev] = cp.cuda.Device(dev).attributes["MultiProcessorCount"]
    return n


# kernel name -> (source file stem, signature): every kernel Python launches is declared
# here by the module that launches it, so a test can check each declaration against the
# parameter list nvcc compiles (tests/test_cuda_kernels_compile.py).
KERNELS: dict[str, tuple[str, str]] = {}


def declare(source: str, sig: str, *names: str) -> None:
    """Declare kernels ``names`` of ``<source>.cu`` with signature ``sig`` (see
    :func:`cast_args` for the letters)."""
    if source not in SOURCES:
        raise ValueError(f"unknown CUDA source {source!r}: expected one of {SOURCES}")
    for n in names:
        KERNELS[n] = (source, sig)


def launch(name: str, grid, block, args, shared_mem: int = 0) -> None:
    """Launch declared kernel ``name`` on CuPy's current stream, with every argument
    checked and cast to its C type by :func:`cast_args`."""
    source, sig = KERNELS[name]
    grid = grid if isinstance(grid, tuple) else (int(grid),)
    block = block if isinstance(block, tuple) else (int(block),)
    function(source, name)(grid, block, cast_args(sig, args), shared_mem=shared_mem)


def struct(dtype: np.dtype, **fields) -> np.ndarray:
    """A zeroed 1-element structured array of ``dtype`` with ``fields`` set: how a C
    struct is passed by value."""
    s = np.zeros(1, dtype)
    for k, v in fields.items():
        s[k] = v
    return s
