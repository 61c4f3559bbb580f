"""cffi builder for ``ember._C._lib`` (API, out-of-line mode).

Every ``*.h`` beside this file is a cdef-clean declaration file (no
``#include`` or ``#ifdef``) and every ``*.c`` is compiled in. Environment:
``EMBER_SANITIZE=1`` builds with AddressSanitizer and UBSan (for the fuzz
suite), ``EMBER_DEBUG=1`` builds with ``-O0 -g``.
"""

from __future__ import annotations

import os
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
MODULE = "ember._C._lib"


def headers() -> list[Path]:
    return sorted(HERE.glob("*.h"))


def sources() -> list[Path]:
    return sorted(HERE.glob("*.c"))


def make_ffi() -> cffi.FFI:
    ffi = cffi.FFI()
    for header in headers():
        ffi.cdef(header.read_text())
    includes = "\n".join(f'#include "{h.name}"' for h in headers())
    # -fno-math-errno / -fno-trapping-math let GCC vectorize sqrt, floor and selects; never
    # -ffast-math: the kernels rely on NaN and inf semantics.
    cflags = ["-std=gnu11", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-Wall",
              "-Wno-unused-function"]
    ldflags = ["-fopenmp", "-lm"]
    if os.environ.get("EMBER_SANITIZE") == "1":
        cflags += [
            "-O1",
            "-g",
            "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
        ]
        ldflags += ["-fsanitize=address,undefined"]
    elif os.environ.get("EMBER_DEBUG") == "1":
        cflags += ["-O0", "-g"]
    else:
        cflags += ["-O3"]
    ffi.set_source(
        MODULE,
        includes,
        sources=[str(s) for s in sources()],
        include_dirs=[str(HERE)],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    return ffi


def build(tmpdir: str) -> str:
    """Compile the extension under ``tmpdir``; return the path of the shared library."""
    return make_ffi().compile(tmpdir=tmpdir, verbose=False)


if __name__ == "__main__":
    import sys

    print(build(sys.argv[1] if len(sys.argv) > 1 else "build"))
