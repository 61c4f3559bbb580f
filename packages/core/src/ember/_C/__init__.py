"""ember's compiled kernel library (``ember._C._lib``, built by cffi at install time)."""

import os

# ember's OpenMP kernels run interleaved with numpy's BLAS, whose threads are its own.
# libgomp's default keeps idle OpenMP threads spinning for ~300,000 iterations after
# each parallel region, which starves the BLAS threads on small machines: the seed's
# two-layer network ran 2.5x slower than numpy on 2 cores until idle threads were made
# to sleep sooner. Read once, when libgomp loads (here); a user's setting wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "10000"

try:
    from ember._C._lib import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "ember's C kernel library (ember._C._lib) is missing or broken: ember-core must be "
        f"installed with `pip install packages/core` (or -e) so its build hook compiles it ({exc})"
    ) from exc

__all__ = ["ffi", "lib"]
